import { InvocationContext } from './lib/database';
import { countingFailures } from './lib/metrics';
import { routeRead, RoutedReadResult } from './lib/read-routing';
import {
  everyReadTarget,
  prepareForFirstInvocation,
  readTargetsFromEnvironment,
} from './lib/runtime';
import { prepareUsersStatement } from './lib/users-repository';
import { parseReadEvent } from './lib/validation';

// Init phase: reads the credentials and runs the data path once on every instance the reads go
// to (the primary and each replica: TLS sessions are per host), on connections closed before the
// init ends, so the first invocation resumes TLS and runs compiled code (see runtime.ts).
await prepareForFirstInvocation(everyReadTarget, prepareUsersStatement);

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
