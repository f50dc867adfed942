import { readDatabaseConfig } from './config';
import { CredentialsSource, SecretsManagerCredentials, StaticCredentials } from './credentials';
import { Database, DatabaseOptions } from './database';
import { emfSink } from './metrics';

// Module scope, shared by the invocations of one execution environment: configuration and the
// credentials cache only. No connection lives here; Database opens one per invocation.
let database: Database | undefined;

/**
 * The environment's Database, built on first use from DB_SECRET_ARN / DATABASE_URL, so a missing
 * variable is reported as a ConfigurationError by the invocation instead of crashing the init.
 */
export function databaseFromEnvironment(): Database {
  database ??= createDatabase();
  return database;
}

/** A Database configured from DB_SECRET_ARN / DATABASE_URL, with `options` on top (timeouts). */
export function createDatabase(
  options: Omit<DatabaseOptions, 'credentials' | 'tls'> = {}
): Database {
  const config = readDatabaseConfig();
  const credentials: CredentialsSource =
    config.kind === 'secret'
      ? new SecretsManagerCredentials(config.secretId, { host: config.proxyHost })
      : new StaticCredentials(config.credentials);
  return new Database({ onMetrics: emfSink(), ...options, credentials, tls: config.tls });
}
