/**
 * `npm run db:migrate`: applies the schema to DATABASE_URL with the same migrate() the
 * deploy-time custom resource runs. `npm run db:migrate -- --help` says what to set.
 */
import { readDatabaseConfig } from '../lambda/lib/config';
import { StaticCredentials } from '../lambda/lib/credentials';
import { Database } from '../lambda/lib/database';
import { DatabaseUnreachableError } from '../lambda/lib/errors';
import { MIGRATION_DATABASE_OPTIONS } from '../lambda/lib/server-bounds';
import { migrate } from '../lambda/migrate';
import { CliSpec, Io, UsageError, processIo, runCli, exitWith } from './lib/cli';

export const DB_MIGRATE_CLI: CliSpec = {
  command: 'npm run db:migrate',
  summary:
    'Applies the schema (tables, routines) to the database in DATABASE_URL, with the same code ' +
    'the deploy-time custom resource runs. Needs no privilege beyond the app schema.',
  options: [],
  notes: [
    'Environment:',
    '  DATABASE_URL    mysql://user:pass@host:3306/app (add ?tls=true to require TLS)',
    "  DB_TLS_CA_FILE  CA bundle the server's certificate chains to (a local TLS server)",
  ],
};

export function main(
  argv: readonly string[],
  io: Io = processIo,
  env: NodeJS.ProcessEnv = process.env
): Promise<number> {
  return runCli(
    DB_MIGRATE_CLI,
    argv,
    async () => {
      if (!env.DATABASE_URL) {
        throw new UsageError(
          'Set DATABASE_URL to the database to migrate, e.g. DATABASE_URL=mysql://user:pass@127.0.0.1:3306/app npm run db:migrate'
        );
      }
      const config = readDatabaseConfig({
        DATABASE_URL: env.DATABASE_URL,
        DB_TLS_CA_FILE: env.DB_TLS_CA_FILE,
      });
      if (config.kind !== 'url') {
        throw new UsageError('db:migrate reads DATABASE_URL only.');
      }
      const { credentials, tls } = config;
      // The same open / close / error mapping as the functions, with room for DDL.
      const database = new Database({
        credentials: new StaticCredentials(credentials),
        tls,
        ...MIGRATION_DATABASE_OPTIONS,
        defaultBudgetMs: 10 * 60_000,
      });
      try {
        await database.run((connection) => migrate({ query: (sql) => connection.query(sql, []) }));
      } catch (error) {
        // The functions' wording talks about security groups; here the fix is the URL.
        if (error instanceof DatabaseUnreachableError) {
          throw new DatabaseUnreachableError(
            `Cannot reach the database at ${credentials.host}:${credentials.port}: check ` +
              "DATABASE_URL's host and port, and that the server is running.",
            { cause: error }
          );
        }
        throw error;
      }
      io.out(
        `Schema is up to date in ${credentials.database} on ${credentials.host}:${credentials.port}.`
      );
    },
    io
  );
}

if (require.main === module) {
  exitWith('db:migrate', main(process.argv.slice(2)), 'all');
}
