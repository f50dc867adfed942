import { SqlConnection } from './connection';
import { Database } from './database';

/**
 * The data path, run once during Lambda's init phase on a connection of its own, closed before
 * the init ends: TCP, TLS, login and one statement that reads no row and writes nothing, through
 * the code the handlers use (openConnection, the statement binding, mysql2's row parser for the
 * users columns). The first invocation then resumes this TLS session (mysql2 keeps one per host
 * and `ssl` object, config.ts) and runs functions V8 has compiled already, instead of paying for
 * a full handshake and the first compilation on the memory size's CPU share.
 *
 * Why no connection outlives init (DESIGN.md, "no connection outlives an invocation"): the
 * preparation's connection is closed with COM_QUIT and awaited until the server has closed it,
 * so nothing is left for a freeze to strand in Sleep, and its one statement opens no transaction
 * and leaves no snapshot behind (autocommit; a SELECT reads no row).
 *
 * Bounded: PREPARATION_BUDGET_MS for all of it, after the secret read that the init did before
 * (its own client timeouts, secrets-manager-client.ts). Any failure (unreachable, denied,
 * max_connections, a proxy that refuses, too slow) is logged once and swallowed: no retry, no
 * other credentials, no re-read of the secret, so the first invocation does exactly what it
 * would have done without the preparation and reports its own error.
 *
 * What the server is left doing when the preparation gives up: its statement is a read-only
 * SELECT, so at most it waits out a metadata lock (lock_wait_timeout, server-bounds.ts) and
 * fails; nothing can take effect later.
 */

/**
 * The whole preparation (connect, statement, close), ms: half for the handshake, three tenths
 * for the statement, the rest for the close (rehearsalShares() in database.ts). On a full vCPU
 * (on-demand init) it takes a few milliseconds of CPU plus ~5 round trips; on a small share
 * (provisioned concurrency) the full TLS handshake and the first compilation take most of it
 * (docs/performance.md, the first-invocation table), and a preparation that runs out of it
 * only leaves the first invocation as it was.
 */
export const PREPARATION_BUDGET_MS = 1000;

/** Set to "false" on a function to skip the preparation (and its connection) at init. */
export const PREPARE_AT_INIT_ENV = 'DB_PREPARE_AT_INIT';

/**
 * Replaces PREPARATION_BUDGET_MS (whole milliseconds): for a function whose database is far
 * away, and for tests on a machine too busy to finish a TLS handshake in half a second.
 */
export const PREPARATION_BUDGET_ENV = 'DB_PREPARE_AT_INIT_BUDGET_MS';

export type PreparationOutcome = 'succeeded' | 'failed' | 'skipped';

export interface PreparationOptions {
  /** @default - DB_PREPARE_AT_INIT_BUDGET_MS when a positive whole number, else PREPARATION_BUDGET_MS */
  readonly budgetMs?: number;
  /** Told why a preparation failed. @default console.warn, one line */
  readonly onFailure?: (error: unknown) => void;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Reads the credentials of every database in `databases()` (each environment's first secret
 * read), then runs `work` once on each, in parallel, within the budget. Never rejects:
 * 'succeeded' when every database ran it, 'failed' otherwise (or when there is no
 * configuration), 'skipped' when DB_PREPARE_AT_INIT=false (only the secret is read then).
 */
export async function prepareDataPath(
  databases: () => readonly Database[],
  work: (connection: SqlConnection) => Promise<unknown>,
  { budgetMs, onFailure = warn, env = process.env }: PreparationOptions = {}
): Promise<PreparationOutcome> {
  const fromEnv = Number(env[PREPARATION_BUDGET_ENV]);
  const budget =
    budgetMs ?? (Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : PREPARATION_BUDGET_MS);
  let targets: readonly Database[];
  try {
    targets = databases();
    for (const database of targets) {
      await database.prepare(); // the first fills the shared cache; replicas reuse it
    }
  } catch (error) {
    onFailure(error); // reported again, in full, by the invocation, which reads the secret again
    return 'failed';
  }
  if (env[PREPARE_AT_INIT_ENV] === 'false') {
    return 'skipped';
  }
  const results = await Promise.allSettled(targets.map((db) => db.rehearse(work, budget)));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  for (const failure of failures) {
    onFailure(failure.reason);
  }
  return failures.length === 0 ? 'succeeded' : 'failed';
}

function warn(error: unknown): void {
  const { name, code, message } = error as Error & { code?: string };
  console.warn(
    `Init preparation of the data path failed (${code ?? name}: ${message}); the first ` +
      'invocation connects as usual and reports any error itself.'
  );
}
