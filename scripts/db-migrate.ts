/**
 * `npm run db:migrate`: applies the schema to DATABASE_URL (mysql://user:pass@host:3306/app,
 * `?tls=true` to require TLS, DB_TLS_CA_FILE for a local CA), with the same migrate() the
 * deploy-time custom resource runs.
 */
import { readDatabaseConfig } from '../lambda/lib/config';
import { StaticCredentials } from '../lambda/lib/credentials';
import { Database } from '../lambda/lib/database';
import { MIGRATION_DATABASE_OPTIONS } from '../lambda/lib/server-bounds';
import { migrate } from '../lambda/migrate';

async function main(): Promise<void> {
  const config = readDatabaseConfig({
    DATABASE_URL: process.env.DATABASE_URL,
    DB_TLS_CA_FILE: process.env.DB_TLS_CA_FILE,
  });
  if (config.kind !== 'url') {
    throw new Error('db:migrate reads DATABASE_URL only.');
  }
  const { credentials, tls } = config;
  // The same open / close / error mapping as the functions, with room for DDL.
  const database = new Database({
    credentials: new StaticCredentials(credentials),
    tls,
    ...MIGRATION_DATABASE_OPTIONS,
    defaultBudgetMs: 10 * 60_000,
  });
  await database.run((connection) => migrate({ query: (sql) => connection.query(sql, []) }));
  console.log(
    `Schema is up to date in ${credentials.database} on ${credentials.host}:${credentials.port}.`
  );
}

main().catch((error: Error) => {
  console.error(`${error.name}: ${error.message}`);
  process.exitCode = 1;
});
