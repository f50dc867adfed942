import { escapeId } from 'mysql2';

/**
 * What a function's database user may do on the app schema: one `GRANT` each. Declared with the
 * function (lib/data-function-declaration.ts), rendered here for whoever creates the users (the
 * migration custom resource, the tests), so the stack and the database agree on one list.
 * https://dev.mysql.com/doc/refman/8.4/en/grant.html
 */
export type Grant =
  | {
      /** Table privileges: the statements the function's repository sends. */
      readonly privileges: readonly TablePrivilege[];
      readonly table: string;
    }
  | {
      /** A stored procedure the function CALLs (SQL SECURITY INVOKER: its own grants apply inside). */
      readonly privileges: readonly ['EXECUTE'];
      readonly procedure: string;
    };

export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

const TABLE_PRIVILEGES: readonly string[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
/** A plain schema-object name: nothing to quote, nothing to inject. */
const OBJECT_NAME = /^[a-z_][a-z0-9_]{0,63}$/;

/**
 * `GRANT <this> TO <user>` fragments, e.g. `SELECT, INSERT ON `app`.users`. `database` is the
 * schema to qualify the objects with.
 */
export function grantClauses(grants: readonly Grant[], database: string): string[] {
  const schema = `${escapeId(database)}.`;
  return grants.map((grant) => {
    assertGrant(grant);
    return 'table' in grant
      ? `${grant.privileges.join(', ')} ON ${schema}${grant.table}`
      : `EXECUTE ON PROCEDURE ${schema}${grant.procedure}`;
  });
}

/**
 * Whether the user only reads: MySQL's max_execution_time bounds its every statement (top-level
 * read-only SELECTs), which the test servers mirror on MariaDB (test/support/private-server.ts).
 */
export function readsOnly(grants: readonly Grant[]): boolean {
  return grants.every((g) => 'table' in g && g.privileges.every((p) => p === 'SELECT'));
}

/**
 * Checks one grant as it arrives from configuration: the migration builds SQL from it, so only
 * the shapes above pass. Throws a message that names the bad grant and the fix.
 */
export function assertGrant(grant: unknown): asserts grant is Grant {
  const g = grant as Record<string, unknown> | null;
  const privileges = g?.privileges;
  const ok =
    typeof g === 'object' &&
    g !== null &&
    Array.isArray(privileges) &&
    privileges.length > 0 &&
    (typeof g.table === 'string'
      ? OBJECT_NAME.test(g.table) &&
        g.procedure === undefined &&
        privileges.every((p) => TABLE_PRIVILEGES.includes(p as string)) &&
        new Set(privileges).size === privileges.length
      : typeof g.procedure === 'string' &&
        OBJECT_NAME.test(g.procedure) &&
        privileges.length === 1 &&
        privileges[0] === 'EXECUTE');
  if (!ok) {
    throw new Error(
      `Grant ${JSON.stringify(grant)?.slice(0, 200)} is not { privileges: [SELECT|INSERT|UPDATE|DELETE, ...], ` +
        'table } or { privileges: ["EXECUTE"], procedure }, with a plain lower-case object name. ' +
        "Fix the function's declaration (lib/data-functions.ts)."
    );
  }
}
