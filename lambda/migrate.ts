import { escapeId } from 'mysql2';
import { UPSERT_USER_PROCEDURE, usersSchemaStatements } from './lib/users-schema';

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
 * Creates the schema objects (table `users`, routine `upsert_user_v1`) if they do not exist.
 * Idempotent and safe while the functions run. Needs CREATE, CREATE ROUTINE (and ALTER ROUTINE
 * for future versions) on the app schema, nothing server-wide. Used by `npm run db:migrate` and
 * by the deploy-time custom resource.
 */
export async function migrate(
  connection: StatementRunner,
  options: MigrateOptions = {}
): Promise<void> {
  for (const statement of usersSchemaStatements(schemaPrefix(options.database))) {
    await connection.query(statement);
  }
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
      ]
    : [`SELECT ON ${schema}users`];
}

function schemaPrefix(database: string | undefined): string {
  return database ? `${escapeId(database)}.` : '';
}
