import { escape, escapeId } from 'mysql2';
import { SchemaModule } from './lib/schema-module';
import { SCHEMA_MODULES } from './schema-modules';

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
  /**
   * The schema modules to apply, in order.
   * @default SCHEMA_MODULES (lambda/schema-modules.ts)
   */
  readonly modules?: readonly SchemaModule[];
}

/**
 * Applies every schema module's steps in order (for the shipped stack: table `users`, routines
 * `upsert_user_v1` to `_v3`), each only if not already applied. Idempotent and safe while the
 * functions run. Needs CREATE, CREATE ROUTINE (and ALTER ROUTINE for future versions) on the app
 * schema, nothing server-wide. Used by `npm run db:migrate` and by the deploy-time custom
 * resource.
 */
export async function migrate(
  connection: StatementRunner,
  options: MigrateOptions = {}
): Promise<void> {
  const schema = options.database ? `${escapeId(options.database)}.` : '';
  const schemaName = options.database ? escape(options.database) : undefined;
  for (const module of options.modules ?? SCHEMA_MODULES) {
    for (const step of module.steps(schema, schemaName)) {
      if (step.appliedIf && (await alreadyApplied(connection, step.appliedIf))) {
        continue;
      }
      await connection.query(step.sql);
    }
  }
}

/** Whether the query returned a row, whatever shape the runner gives results in. */
async function alreadyApplied(connection: StatementRunner, query: string): Promise<boolean> {
  const result = await connection.query(query);
  // mysql2/promise resolves with [rows, fields]; our SqlConnection with the rows.
  const rows = Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result;
  return Array.isArray(rows) && rows.length > 0;
}
