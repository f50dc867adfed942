import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';

/** The runtime stand-in: loads a bundle once, runs invocations over IPC. */
const RUNTIME = path.join(__dirname, 'lambda-runtime.mjs');

export interface InvocationOutcome<T = unknown> {
  readonly ok: boolean;
  readonly result?: T;
  /** `name: message` of the error the handler rejected with. */
  readonly error?: string;
  readonly errorName?: string;
  readonly errorMessage?: string;
  /** Handler time, measured inside the environment (no IPC). */
  readonly ms: number;
  /**
   * The environment's CPU time (user + system, all threads) from its previous reply (or the end
   * of its init) to this one: the invocation's, when invocations take turns. NaN if it died.
   */
  readonly cpuMs: number;
}

export interface EnvironmentOptions {
  /**
   * A CPU share (scripts/lib/cpu-share.ts) to move the process into before its init, as a
   * Lambda function of that memory size gets its CPU. @default - the machine's full CPU
   */
  readonly cpuShare?: { add(pid: number): void };
  /** Run init on the full CPU and only the invocations on `cpuShare`, as Lambda runs an on-demand init. */
  readonly initOnFullCpu?: boolean;
  /** Discard the handler's stdout (its metric lines) instead of showing it. */
  readonly quiet?: boolean;
}

type Reply = {
  id?: number;
  ms?: number;
  /** The process's CPU time since its init began, ms. */
  cpuMs?: number;
  result?: unknown;
  error?: { name: string; message: string };
};

/**
 * A simulated Lambda execution environment: a child process that loads a bundled handler once
 * and keeps its module scope between invocations, with freeze/thaw (SIGSTOP/SIGCONT: the
 * process, and its sockets, stay as they are, which is what Lambda does to an idle
 * environment). Used by the handler tests (through LambdaEnvironment) and by the scripts.
 */
export class SimulatedEnvironment {
  private nextId = 0;
  /** The process's CPU time at its last reply, to tell each invocation's own. */
  private cpuSoFar: number;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
    /** Module init (loading the bundle, its top-level await included), measured inside. */
    readonly initMs: number,
    /** CPU time of that init (user + system, all threads). */
    readonly initCpuMs: number
  ) {
    this.cpuSoFar = initCpuMs;
    child.on('message', (reply: Reply) => {
      const done = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (done) {
        this.pending.delete(reply.id!);
        done(reply);
      }
    });
    child.on('exit', () => {
      for (const [id, done] of this.pending) {
        this.pending.delete(id);
        done({ error: { name: 'EnvironmentExited', message: `environment ${label} exited` } });
      }
    });
  }

  static async start(
    label: string,
    bundleFile: string,
    env: Record<string, string>,
    { cpuShare, initOnFullCpu = false, quiet = false }: EnvironmentOptions = {}
  ): Promise<SimulatedEnvironment> {
    // Init inside the share: the runtime waits until the process is in it.
    const initInShare = cpuShare !== undefined && !initOnFullCpu;
    const child = fork(RUNTIME, [bundleFile, ...(initInShare ? ['--load-on-message'] : [])], {
      // Not this process's flags (a tsx or jest loader): a Lambda runtime starts a plain node.
      execArgv: [],
      env: {
        PATH: process.env.PATH,
        // No NODE_PATH (unless `env` gives one): the bundles carry the AWS SDK, and must not find
        // it anywhere else. The SDK's notice about Node versions older than Lambda's is noise.
        NODE_OPTIONS: '--disable-warning=NodeVersionSupportWarning',
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit', 'ipc'],
    });
    // No start-up deadline: a loaded machine may take many seconds to start 46 of these at once.
    // An environment that dies says so at once; one that hangs is the caller's (jest's) timeout.
    const next = <T>(what: string) =>
      new Promise<T>((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code, signal) =>
          reject(
            new Error(
              `environment ${label} exited (${code ?? signal}) before ${what}: see its output above`
            )
          )
        );
      });
    if (initInShare) {
      await next('it started');
      cpuShare.add(child.pid!);
      child.send({ load: true });
    }
    const { initMs, initCpuMs } = await next<{ initMs: number; initCpuMs: number }>('it was ready');
    if (cpuShare && !initInShare) cpuShare.add(child.pid!);
    return new SimulatedEnvironment(label, child, initMs, initCpuMs);
  }

  get pid(): number {
    return this.child.pid!; // set once the process started, which start() waited for
  }

  /** One invocation; never rejects (the outcome says whether the handler did). */
  invoke<T = unknown>(event: unknown, remainingMs = 10_000): Promise<InvocationOutcome<T>> {
    const id = this.nextId++;
    const started = performance.now();
    return new Promise((resolve) => {
      this.pending.set(id, ({ ms = performance.now() - started, cpuMs, result, error }) => {
        const cpu = cpuMs === undefined ? NaN : cpuMs - this.cpuSoFar;
        if (cpuMs !== undefined) this.cpuSoFar = cpuMs;
        resolve(
          error
            ? {
                ok: false,
                ms,
                cpuMs: cpu,
                errorName: error.name,
                errorMessage: error.message,
                error: `${error.name}: ${error.message}`,
              }
            : { ok: true, ms, cpuMs: cpu, result: result as T }
        );
      });
      this.child.send({ id, event, remainingMs });
    });
  }

  /** Like invoke(), but a rejected handler is an error (for the measurements). */
  async invokeOk<T = unknown>(event: unknown): Promise<InvocationOutcome<T>> {
    const outcome = await this.invoke<T>(event);
    if (!outcome.ok) throw new Error(`${this.label}: invocation failed: ${outcome.error}`);
    return outcome;
  }

  /** What Lambda does between invocations: the process stops, its sockets stay open. */
  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  thaw(): void {
    this.child.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGCONT');
      this.child.kill('SIGKILL');
      // unref: a pending fallback timer must not keep the process (or jest) alive.
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    }
  }
}
