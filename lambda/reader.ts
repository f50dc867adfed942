import { InvocationContext } from './lib/database';
import { databaseFromEnvironment } from './lib/runtime';
import { ReadResult, readUsers } from './lib/users-repository';
import { parseReadEvent } from './lib/validation';

/** `{ email }` -> `{ user | null }`; `{ limit?, after? }` -> `{ users, next }` ordered by id. */
export async function handler(event: unknown, context?: InvocationContext): Promise<ReadResult> {
  const input = parseReadEvent(event); // before connecting: a bad event touches nothing
  return databaseFromEnvironment().run((db) => readUsers(db, input), context);
}
