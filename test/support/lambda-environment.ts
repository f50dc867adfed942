import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import type { HandlerName } from './bundle';
import { readState } from './state';

/** The error a handler rejected with, as Lambda would report it (errorType = name). */
export class InvocationError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * A simulated Lambda execution environment: a child process that loads the *bundled* handler
 * once and keeps its module scope between invocations. Two of these are two environments.
 */
export class LambdaEnvironment {
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void }
  >();

  private constructor(private readonly child: ChildProcess) {
    child.on(
      'message',
      (message: { id?: number; result?: unknown; error?: { name: string; message: string } }) => {
        const call = message.id === undefined ? undefined : this.pending.get(message.id);
        if (call && message.id !== undefined) {
          this.pending.delete(message.id);
          if (message.error) {
            call.reject(new InvocationError(message.error.name, message.error.message));
          } else {
            call.resolve(message.result);
          }
        }
      }
    );
  }

  /** Starts an environment for `handler` with the function's environment variables. */
  static async start(
    handler: HandlerName,
    env: Record<string, string>
  ): Promise<LambdaEnvironment> {
    const child = fork(
      path.join(__dirname, 'lambda-runtime.js'),
      [readState().bundles[handler].file],
      {
        env: {
          PATH: process.env.PATH,
          // Lambda puts the AWS SDK on the module path; our bundles leave it external.
          NODE_PATH: path.join(__dirname, '..', '..', 'node_modules'),
          // Lambda's runtime is Node 24; the SDK's notice about older local Node versions is noise here.
          NODE_OPTIONS: '--enable-source-maps --disable-warning=NodeVersionSupportWarning',
          AWS_EC2_METADATA_DISABLED: 'true',
          ...env,
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }
    );
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) =>
        reject(new Error(`environment exited with ${code} before it was ready`))
      );
    });
    return new LambdaEnvironment(child);
  }

  /** Invokes the handler; `remainingMs` is what context.getRemainingTimeInMillis() starts at. */
  invoke<T = unknown>(event: unknown, { remainingMs = 10_000 } = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, event, remainingMs });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill();
      await exited;
    }
  }
}
