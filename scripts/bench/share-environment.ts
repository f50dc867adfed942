import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import type { CpuShare } from '../lib/cpu-share';
import { ROOT } from '../lib/report';

const RUNTIME = path.join(__dirname, 'share-runtime.mjs');

export interface Invocation {
  /** Handler time measured inside the environment (no IPC). */
  readonly ms: number;
  readonly result?: unknown;
  /** `name: message` when the handler rejected. */
  readonly error?: string;
}

/**
 * A simulated execution environment for the CPU bench: a child process that is moved into a
 * CPU share (when given) before it loads the bundle, so module init, the first invocation and
 * the warm ones all run on a Lambda-sized slice of one CPU.
 */
export class ShareEnvironment {
  private nextId = 0;
  private readonly pending = new Map<number, (message: Invocation) => void>();

  private constructor(
    private readonly child: ChildProcess,
    /** Time to `require` the bundle (module init), measured inside the environment. */
    readonly initMs: number
  ) {
    child.on('message', (message: Invocation & { id?: number }) => {
      const done = message.id === undefined ? undefined : this.pending.get(message.id);
      if (done) {
        this.pending.delete(message.id!);
        done(message);
      }
    });
  }

  /**
   * Starts an environment and loads the bundle (init). With `share`, init runs inside it unless
   * `initOnFullCpu`, which moves the process into the share only once init is done, as Lambda
   * runs an on-demand function's init on a full vCPU (see prepareForFirstInvocation()).
   */
  static async start(
    bundleFile: string,
    env: Record<string, string>,
    share?: CpuShare,
    { initOnFullCpu = false }: { initOnFullCpu?: boolean } = {}
  ): Promise<ShareEnvironment> {
    const child = fork(RUNTIME, [bundleFile], {
      // Not this process's flags: under tsx they load its module hooks (a loader thread, a
      // transform per import) into every environment, which Lambda's runtime does not.
      execArgv: [],
      env: {
        PATH: process.env.PATH,
        NODE_PATH: path.join(ROOT, 'node_modules'), // the runtime's AWS SDK, for the baselines' bundles
        NODE_OPTIONS: '--disable-warning=NodeVersionSupportWarning', // as the stack: no source maps
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      },
      // stdout carries the EMF metric lines: written (their cost is measured), not shown.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const next = <T>(what: string) =>
      new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`environment: no ${what} in 30 s`)),
          30_000
        );
        child.once('message', (message: T) => {
          clearTimeout(timer);
          resolve(message);
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`environment exited with ${code} before ${what}`));
        });
      });
    await next('spawn');
    if (share && !initOnFullCpu) {
      share.add(child.pid!);
    }
    const loaded = next<{ initMs: number }>('init');
    child.send({ load: true });
    const { initMs } = await loaded;
    if (share && initOnFullCpu) {
      share.add(child.pid!);
    }
    return new ShareEnvironment(child, initMs);
  }

  get pid(): number {
    return this.child.pid!;
  }

  invoke(event: unknown): Promise<Invocation> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.send({ id, event });
    });
  }

  /** Like invoke(), but a rejected handler fails the bench. */
  async invokeOk(event: unknown): Promise<Invocation> {
    const outcome = await this.invoke(event);
    if (outcome.error) {
      throw new Error(`invocation failed: ${outcome.error}`);
    }
    return outcome;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    }
  }
}
