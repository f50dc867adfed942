/**
 * A schema module: the tables and routines one part of the app owns, as idempotent steps that
 * `migrate()` applies in order (lambda/migrate.ts). The modules are listed once, in
 * lambda/schema-modules.ts; a fork adds its own module there (README "Fork it").
 */
export interface SchemaModule {
  /** What it holds, for messages (`users`). */
  readonly name: string;
  /**
   * Its steps, in order, each idempotent on MySQL 8.4 and MariaDB 10.11. `schema` is an already
   * escaped identifier prefix such as "`app`." or '' for the connection's default database;
   * `schemaName` the same schema as an SQL string expression, for information_schema.
   */
  readonly steps: (schema: string, schemaName?: string) => SchemaStep[];
}

/** One idempotent migration step. */
export interface SchemaStep {
  /** The statement that applies the step. */
  readonly sql: string;
  /**
   * A query that returns a row when the step is already applied, for DDL that has no
   * `IF NOT EXISTS` on MySQL 8.4 (ADD COLUMN): checked first, the step is skipped if it does.
   * @default - the statement is idempotent itself
   */
  readonly appliedIf?: string;
}

/** Every statement of the modules' steps, in order: what the stack's schema version hashes. */
export function schemaStatements(
  modules: readonly SchemaModule[],
  schema: string,
  schemaName?: string
): string[] {
  return modules.flatMap((module) =>
    module
      .steps(schema, schemaName)
      .flatMap((step) => (step.appliedIf ? [step.appliedIf, step.sql] : [step.sql]))
  );
}
