import type { Context } from 'aws-lambda';
import { DbCredentials, tlsSettings } from './lib/config';
import { StaticCredentials } from './lib/credentials';
import { Database, InvocationContext } from './lib/database';
import { ConfigurationError } from './lib/errors';
import { ownPasswordStatement } from './lib/password-clause';
import { RotationDatabase, RotationEvent, rotateSecret } from './lib/rotation';
import { secretsManagerClient } from './lib/secrets-manager-client';
import { accountText } from './lib/sql-literals';
import { canLogIn } from './lib/user-secret';

/**
 * The stack's secret rotation function (lib/password-rotation.ts): single-user rotation of the
 * admin, writer and reader secrets. It connects to the secret's host (the instance, never the
 * proxy) with TLS verified against the Amazon RDS root of the instance's CA for the function's
 * region (DB_CA_TYPE, AWS_REGION: lambda/lib/rds-ca.ts), or DB_TLS_CA_FILE in tests; there is
 * no plaintext fallback. New passwords exclude EXCLUDE_CHARACTERS and are PASSWORD_LENGTH long.
 */

// Once per environment: the TLS context (and its session cache) is keyed by this object.
const tls = tlsSettings({ ...process.env, DB_PROXY_HOST: undefined });
const secrets = secretsManagerClient();

export async function handler(event: RotationEvent, context?: Context): Promise<void> {
  await rotateSecret(event, {
    secrets,
    database: rotationDatabase(context),
    excludeCharacters: requiredEnv('EXCLUDE_CHARACTERS'),
    passwordLength: Number(requiredEnv('PASSWORD_LENGTH')),
  });
}

function rotationDatabase(context: InvocationContext | undefined): RotationDatabase {
  return {
    canLogIn: (credentials) => canLogIn(credentials, tls),
    changeOwnPassword: (as: DbCredentials, password: string) =>
      new Database({ credentials: new StaticCredentials(as), tls }).run(async (connection) => {
        // The database session's VERSION(), not a greeting's (a proxy's would differ).
        const [{ version }] = await connection.query<{ version: string }[]>(
          'SELECT VERSION() AS `version`',
          []
        );
        await connection.query(ownPasswordStatement(version), [accountText(password)]);
      }, context),
  };
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new ConfigurationError(
      `${name} is not set: the rotation function gets it from lib/password-rotation.ts; deploy the stack again.`
    );
  }
  return value;
}
