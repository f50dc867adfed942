import { assertGrant, Grant } from '../lambda/lib/grants';

/**
 * One data function of the stack: everything else about it (its database user and secret, the
 * secret's rotation, the migration's grants and schema version, the proxy's auth list, its share
 * of the connection budget and reserved concurrency, alarms, dashboard widgets, outputs, the
 * generated figures, the test support) is derived from this. The shipped list is
 * lib/declared-functions.ts; README "Fork it" says how to add one.
 */
export interface DataFunctionDeclaration {
  /**
   * Lower-case name, words joined by `-` (`writer`, `order-writer`). The construct id, outputs and
   * alarms use it in PascalCase (`OrderWriter`), the database user in snake_case (`order_writer`).
   * Changing it replaces the function, its secret and its user on a deployed stack.
   */
  readonly name: string;
  /** Handler file, relative to the project root (`lambda/writer.ts`); it exports `handler`. */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** What its database user may do on the app schema: the least its SQL needs. */
  readonly grants: readonly Grant[];
  /**
   * Its weight in the split of the connection budget between the functions (a function gets
   * `connectionShare / sum of all shares` of it, and at least one connection).
   */
  readonly connectionShare: number;
  /**
   * Whether repeating an event changes nothing more (an upsert: yes; an insert of a new order:
   * no). Errors whose outcome is unknown tell the caller that retrying is safe only when it is.
   */
  readonly idempotentWrites: boolean;
  /**
   * Its reads may go to read replicas (DB_REPLICA_HOSTS; docs/proxy-and-replicas.md): it is
   * opened to each replica, and its concurrency is capped by what a replica holds.
   * @default false
   */
  readonly readsReplicas?: boolean;
}

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** `order-writer` -> `OrderWriter`: construct ids, output and alarm names. */
export function constructIdOf(name: string): string {
  return name
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

/** `order-writer` -> `order_writer`: the MySQL user the function connects as. */
export function usernameOf(name: string): string {
  return name.replace(/-/g, '_');
}

/**
 * Checks a list of declarations as a whole, with messages that name the bad entry and the fix.
 * Returns the list, so a stack can check what it is given in one expression.
 */
export function checkDeclarations<T extends readonly DataFunctionDeclaration[]>(functions: T): T {
  if (functions.length === 0) {
    throw new Error('Declare at least one data function (lib/declared-functions.ts).');
  }
  const seen = new Set<string>();
  for (const f of functions) {
    // 24 characters leave room in MySQL's 32-character user names for a suffix (a rotation clone).
    if (!NAME.test(f.name) || f.name.length > 24) {
      throw new Error(
        `Data function name "${f.name}" must be lower-case words joined by "-" (e.g. order-writer), ` +
          'at most 24 characters: it becomes a construct id and a MySQL user name.'
      );
    }
    if (seen.has(f.name)) {
      throw new Error(`Data function "${f.name}" is declared twice; give each a name of its own.`);
    }
    seen.add(f.name);
    if (!Number.isFinite(f.connectionShare) || f.connectionShare <= 0) {
      throw new Error(
        `Data function "${f.name}": connectionShare must be a positive number, got ${f.connectionShare}.`
      );
    }
    if (f.grants.length === 0) {
      throw new Error(`Data function "${f.name}" has no grants: its user could do nothing.`);
    }
    f.grants.forEach((grant) => assertGrant(grant));
  }
  return functions;
}
