import type { InvocationContext } from './database';
import type { PreparationOutcome } from './init-preparation';
import type { InvocationMetrics } from './metrics';

/**
 * Which invocation is an environment's first, for the metrics line: the first one that opens a
 * connection (an invalid event opens none, and costs nothing the preparation could save). Every
 * connection of that invocation counts as cold (a reader's replica read and its fallback to the
 * primary share Lambda's awsRequestId); without a request id, only the first connection does.
 */
export class ColdStartTracker {
  private firstRequest?: { id: string | undefined };
  /** Set once the init phase's preparation has finished. */
  preparation?: PreparationOutcome;

  /** The cold-start fields of a metrics line for a connection opened in `context`. */
  of(
    context?: InvocationContext
  ): Pick<InvocationMetrics, 'coldStart' | 'initPreparationSucceeded'> {
    const id = context?.awsRequestId;
    if (this.firstRequest === undefined) {
      this.firstRequest = { id };
    } else if (id === undefined || id !== this.firstRequest.id) {
      return { coldStart: false };
    }
    if (this.preparation === undefined) {
      return { coldStart: true }; // a function that prepares nothing at init (the migration's)
    }
    // 'skipped' (DB_PREPARE_AT_INIT=false) is reported as not succeeded: nothing was prepared.
    return { coldStart: true, initPreparationSucceeded: this.preparation === 'succeeded' };
  }
}
