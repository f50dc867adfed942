import type { HandlerName } from './bundle';
import { SimulatedEnvironment } from './simulated-environment';
import { readState } from './state';

/** The error a handler rejected with, as Lambda would report it (errorType = name). */
export class InvocationError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * A simulated execution environment running one of the handlers as bundled for this test run,
 * whose invocations resolve with the handler's result or reject with its error. Two of these
 * are two environments.
 */
export class LambdaEnvironment {
  private constructor(private readonly environment: SimulatedEnvironment) {}

  /** Starts an environment for `handler` with the function's environment variables. */
  static async start(
    handler: HandlerName,
    env: Record<string, string>
  ): Promise<LambdaEnvironment> {
    return LambdaEnvironment.startBundle(handler, readState().bundles[handler].file, env);
  }

  /** Starts an environment for a bundle built elsewhere (a fork's handler, test/fork/). */
  static async startBundle(
    label: string,
    file: string,
    env: Record<string, string>
  ): Promise<LambdaEnvironment> {
    return new LambdaEnvironment(await SimulatedEnvironment.start(label, file, env));
  }

  /** Invokes the handler; `remainingMs` is what context.getRemainingTimeInMillis() starts at. */
  async invoke<T = unknown>(event: unknown, { remainingMs = 10_000 } = {}): Promise<T> {
    const outcome = await this.environment.invoke<T>(event, remainingMs);
    if (!outcome.ok) {
      throw new InvocationError(outcome.errorName ?? 'Error', outcome.errorMessage ?? '');
    }
    return outcome.result as T;
  }

  stop(): Promise<void> {
    return this.environment.stop();
  }
}
