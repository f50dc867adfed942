import { InvocationContext } from './lib/database';
import { countingFailures } from './lib/metrics';
import { databaseFromEnvironment, prepareForFirstInvocation } from './lib/runtime';
import { prepareUsersStatement, User, upsertUser } from './lib/users-repository';
import { parseWriteEvent } from './lib/validation';

// Init phase: reads the credentials and runs the data path once, on a connection closed before
// the init ends, so the first invocation resumes TLS and runs compiled code (see runtime.ts).
await prepareForFirstInvocation(() => [databaseFromEnvironment()], prepareUsersStatement);

/** `{ email, name }` -> `{ user }`: upserts by email; repeating an event changes nothing. */
export const handler = countingFailures(
  async (event: unknown, context?: InvocationContext): Promise<{ user: User }> => {
    const input = parseWriteEvent(event); // before connecting: a bad event touches nothing
    const user = await databaseFromEnvironment().run((db) => upsertUser(db, input), context);
    return { user };
  }
);
