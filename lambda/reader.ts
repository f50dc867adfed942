import { InvocationContext } from './lib/database';
import { countingFailures } from './lib/metrics';
import { routeRead, RoutedReadResult } from './lib/read-routing';
import { prepareForFirstInvocation, readTargetsFromEnvironment } from './lib/runtime';
import { parseReadEvent } from './lib/validation';

// Init phase: the credentials are read before the first invocation (see runtime.ts).
await prepareForFirstInvocation(() => readTargetsFromEnvironment().primary);

/**
 * `{ email, minVersion? | consistency? }` -> `{ user | null, servedBy }`;
 * `{ limit?, after?, consistency? }` -> `{ users, next, servedBy }` ordered by id.
 * Primary or replica: see read-routing.ts.
 */
export const handler = countingFailures(
  async (event: unknown, context?: InvocationContext): Promise<RoutedReadResult> => {
    const input = parseReadEvent(event); // before connecting: a bad event touches nothing
    return routeRead(readTargetsFromEnvironment(), input, context);
  }
);
