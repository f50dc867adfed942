import { readDatabaseConfig } from './config';
import { CredentialsSource, SecretsManagerCredentials, StaticCredentials } from './credentials';
import { Database } from './database';

// Module scope, shared by the invocations of one execution environment: configuration and the
// credentials cache only. No connection lives here; Database opens one per invocation.
let database: Database | undefined;

/**
 * The environment's Database, built on first use from DB_SECRET_ARN / DATABASE_URL, so a missing
 * variable is reported as a ConfigurationError by the invocation instead of crashing the init.
 */
export function databaseFromEnvironment(): Database {
  if (!database) {
    const config = readDatabaseConfig();
    const credentials: CredentialsSource =
      config.kind === 'secret'
        ? new SecretsManagerCredentials(config.secretId)
        : new StaticCredentials(config.credentials);
    database = new Database({ credentials, tls: config.tls });
  }
  return database;
}
