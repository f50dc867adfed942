import { escape, escapeId } from 'mysql2';
import {
  UPSERT_USER_PROCEDURE,
  UPSERT_USER_PROCEDURE_V1,
  UPSERT_USER_PROCEDURE_V2,
  usersSchemaSteps,
} from './lib/users-schema';

/** Anything that runs one SQL statement: a mysql2 (promise) connection, or ours. */
export interface StatementRunner {
  query(sql: string): Promise<unknown>;
}

export interface MigrateOptions {
  /**
   * Schema to create the objects in. Give it when the connection's default database is not the
   * app schema (an admin connection).
   * @default - the connection's default database
   */
  readonly database?: string;
}

/**
 * Creates the schema objects (table `users`, routines `upsert_user_v1` to `_v3`) if they do not exist.
 * Idempotent and safe while the functions run. Needs CREATE, CREATE ROUTINE (and ALTER ROUTINE
 * for future versions) on the app schema, nothing server-wide. Used by `npm run db:migrate` and
 * by the deploy-time custom resource.
 */
export async function migrate(
  connection: StatementRunner,
  options: MigrateOptions = {}
): Promise<void> {
  const schemaName = options.database ? escape(options.database) : undefined;
  for (const step of usersSchemaSteps(schemaPrefix(options.database), schemaName)) {
    if (step.appliedIf && (await alreadyApplied(connection, step.appliedIf))) {
      continue;
    }
    await connection.query(step.sql);
  }
}

/** Whether the query returned a row, whatever shape the runner gives results in. */
async function alreadyApplied(connection: StatementRunner, query: string): Promise<boolean> {
  const result = await connection.query(query);
  // mysql2/promise resolves with [rows, fields]; our SqlConnection with the rows.
  const rows = Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result;
  return Array.isArray(rows) && rows.length > 0;
}

export type AppRole = 'writer' | 'reader';

/**
 * The least privileges each function needs, as `GRANT <these> TO <user>` fragments, for
 * whoever creates the database users (the custom resource; the tests).
 */
export function privilegesFor(role: AppRole, database: string): string[] {
  const schema = schemaPrefix(database);
  return role === 'writer'
    ? [
        `SELECT, INSERT, UPDATE ON ${schema}users`,
        `EXECUTE ON PROCEDURE ${schema}${UPSERT_USER_PROCEDURE}`,
        // Until every function runs code that calls the current version.
        `EXECUTE ON PROCEDURE ${schema}${UPSERT_USER_PROCEDURE_V2}`,
        `EXECUTE ON PROCEDURE ${schema}${UPSERT_USER_PROCEDURE_V1}`,
      ]
    : [`SELECT ON ${schema}users`];
}

function schemaPrefix(database: string | undefined): string {
  return database ? `${escapeId(database)}.` : '';
}
