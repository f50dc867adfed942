import { SqlConnection } from './connection';
import { Database, InvocationContext } from './database';
import { confirmCurrentPrimary } from './current-primary';
import { IdLimitError, NotEnoughTimeError } from './errors';
import { findUserByEmail, ReadResult, readUsers, readUsersOnPrimary } from './users-repository';
import { ReadUsersInput } from './validation';

export type ServedBy = 'primary' | 'replica';

/** A reader response: the result and where it was read (see the README, "Read replicas"). */
export type RoutedReadResult = ReadResult & { readonly servedBy: ServedBy };

export interface ReadTargets {
  readonly primary: Database;
  /** Empty: no replica configured, every read goes to the primary. */
  readonly replicas: readonly Database[];
}

export interface RoutingOptions {
  /** Picks the replica of this invocation. @default Math.random */
  readonly random?: () => number;
  /** Told when a replica failed and the read went to the primary. @default console.warn */
  readonly onReplicaFailure?: (error: unknown) => void;
}

/**
 * Routes one read; every path opens one connection, except a `minVersion` read whose replica is
 * behind (or down), which opens a second one, on the primary.
 *
 * - `{ email }`, and list reads without `consistency`: the primary. Strongly consistent; list
 *   reads stay there because the settled-pagination guarantee (users-repository.ts) assumes a
 *   row is visible within SETTLED_AFTER_MS of its insert, which a lagging replica breaks.
 * - `{ email, minVersion }`: a replica whose row has at least that version, else the primary.
 *   Never older than `minVersion`, whatever the lag.
 * - `{ email, consistency: "eventual" }`, `{ limit?, after?, consistency: "eventual" }`: a
 *   replica, stale by up to its lag; a list walk on a lagging replica may skip rows committed
 *   out of id order. A failed replica falls back to the primary.
 *
 * An answer labelled "primary" comes from a server that could be the current primary, checked
 * in the same statement (confirmCurrentPrimary()); replica answers are not checked that way,
 * since a replica is read-only by design: `minVersion` bounds their age, `eventual` does not.
 */
export async function routeRead(
  targets: ReadTargets,
  input: ReadUsersInput,
  context?: InvocationContext,
  options: RoutingOptions = {}
): Promise<RoutedReadResult> {
  const onPrimary = async (): Promise<RoutedReadResult> => {
    const read = await targets.primary.run((db) => readUsersOnPrimary(db, input), context);
    confirmCurrentPrimary(read, input);
    return { ...read.result, servedBy: 'primary' };
  };
  const replica = pick(targets.replicas, options.random ?? Math.random);
  if (!replica) {
    return onPrimary();
  }
  const onReplica = <T>(work: (db: SqlConnection) => Promise<T>) =>
    tryReplica(replica, work, context, options);
  if (input.kind === 'byEmail' && input.minVersion !== undefined) {
    const minVersion = input.minVersion;
    const found = await onReplica((db) => findUserByEmail(db, input.email));
    if (found.ok && found.value !== null && found.value.version >= minVersion) {
      return { user: found.value, servedBy: 'replica' };
    }
    return onPrimary(); // the replica has not applied the caller's write yet, or is down
  }
  if (input.consistency === 'eventual') {
    const read = await onReplica((db) => readUsers(db, input));
    return read.ok ? { ...read.value, servedBy: 'replica' } : onPrimary();
  }
  return onPrimary();
}

function pick<T>(items: readonly T[], random: () => number): T | undefined {
  return items.length === 0 ? undefined : items[Math.floor(random() * items.length)];
}

/**
 * Runs `work` on the replica. Failures that the primary can make up for (unreachable, too many
 * connections, a statement timeout, denied) become `{ ok: false }`; those it cannot (no time
 * left for a second connection, an id JSON cannot carry) are thrown as they are.
 */
async function tryReplica<T>(
  replica: Database,
  work: (db: SqlConnection) => Promise<T>,
  context: InvocationContext | undefined,
  options: RoutingOptions
): Promise<{ ok: true; value: T } | { ok: false }> {
  try {
    return { ok: true, value: await replica.run(work, context) };
  } catch (error) {
    if (error instanceof NotEnoughTimeError || error instanceof IdLimitError) {
      throw error;
    }
    (options.onReplicaFailure ?? warnReplicaFailure)(error);
    return { ok: false };
  }
}

function warnReplicaFailure(error: unknown): void {
  const { name, message } = error as Error;
  console.warn(`Read replica failed (${name}: ${message}); reading from the primary instead.`);
}
