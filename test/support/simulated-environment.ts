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
  /** Wall time seen by the caller (includes a fraction of a millisecond of IPC). */
  readonly ms: number;
}

/**
 * A simulated Lambda execution environment: a child process that loads a bundled handler once
 * and keeps its module scope between invocations, with freeze/thaw (SIGSTOP/SIGCONT: the
 * process, and its sockets, stay as they are, which is what Lambda does to an idle
 * environment). Used by the handler tests (through LambdaEnvironment) and by the scripts.
 */
export class SimulatedEnvironment {
  private nextId = 0;
  private readonly pending = new Map<
    number,
    (m: { result?: unknown; error?: { name: string; message: string } }) => void
  >();

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess
  ) {
    child.on(
      'message',
      (message: { id?: number; result?: unknown; error?: { name: string; message: string } }) => {
        const done = message.id === undefined ? undefined : this.pending.get(message.id);
        if (done && message.id !== undefined) {
          this.pending.delete(message.id);
          done(message);
        }
      }
    );
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
    env: Record<string, string>
  ): Promise<SimulatedEnvironment> {
    const child = fork(RUNTIME, [bundleFile], {
      // Not this process's flags (a tsx or jest loader): a Lambda runtime starts a plain node.
      execArgv: [],
      env: {
        PATH: process.env.PATH,
        // No NODE_PATH: the bundles carry the AWS SDK, and must not find it anywhere else.
        // The SDK's notice about Node versions older than Lambda's is noise.
        NODE_OPTIONS: '--disable-warning=NodeVersionSupportWarning',
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    // No start-up deadline: a loaded machine may take many seconds to start 46 of these at once.
    // An environment that dies says so at once; one that hangs is the caller's (jest's) timeout.
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `environment ${label} exited (${code ?? signal}) before it was ready: see its output above`
          )
        )
      );
    });
    return new SimulatedEnvironment(label, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** One invocation; never rejects (the outcome says whether the handler did). */
  invoke<T = unknown>(event: unknown, remainingMs = 10_000): Promise<InvocationOutcome<T>> {
    const id = this.nextId++;
    const started = performance.now();
    return new Promise((resolve) => {
      this.pending.set(id, (message) => {
        const ms = performance.now() - started;
        resolve(
          message.error
            ? {
                ok: false,
                ms,
                errorName: message.error.name,
                errorMessage: message.error.message,
                error: `${message.error.name}: ${message.error.message}`,
              }
            : { ok: true, ms, result: message.result as T }
        );
      });
      this.child.send({ id, event, remainingMs });
    });
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
