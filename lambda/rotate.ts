import type { Context } from 'aws-lambda';
import { DbCredentials, tlsSettings } from './lib/config';
import { StaticCredentials } from './lib/credentials';
import { Database, InvocationContext } from './lib/database';
import { ConfigurationError } from './lib/errors';
import { ownPasswordChange, passwordClause } from './lib/password-clause';
import { RotationDatabase, RotationEvent, RotationError, rotateSecret } from './lib/rotation';
import { secretsManagerClient } from './lib/secrets-manager-client';
import { SAFETY_MARGIN_MS } from './lib/server-bounds';
import { accountText } from './lib/sql-literals';
import { canLogIn } from './lib/user-secret';

/**
 * The stack's secret rotation function (lib/password-rotation.ts): alternating users for the
 * function users' secrets, with the admin secret (ADMIN_SECRET_ARN); single user for the admin
 * secret itself (lambda/lib/rotation.ts). It connects to the secret's host (the instance, never
 * the proxy) with TLS verified against the Amazon RDS root of the instance's CA for the
 * function's region (DB_CA_TYPE, AWS_REGION: lambda/lib/rds-ca.ts), or DB_TLS_CA_FILE in tests;
 * there is no plaintext fallback. New passwords exclude EXCLUDE_CHARACTERS and are
 * PASSWORD_LENGTH long. Every connection of a step ends before the invocation's own deadline
 * (context.getRemainingTimeInMillis()), so a step that cannot finish fails with a named error
 * that Secrets Manager retries, never with Lambda's "Task timed out".
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
    adminSecretId: process.env.ADMIN_SECRET_ARN || undefined,
  });
}

/**
 * Least time a database operation of a step needs: a connection, TLS, a login and a statement
 * on a healthy instance take well under this; with less left, the step stops with a named error.
 */
const MIN_OPERATION_MS = 1000;

function rotationDatabase(context: InvocationContext | undefined): RotationDatabase {
  /** Each operation gets what is left of the invocation (Database keeps SAFETY_MARGIN_MS back). */
  const bounded = <T>(what: string, operation: () => Promise<T>): Promise<T> => {
    const left = context?.getRemainingTimeInMillis?.();
    if (left !== undefined && left - SAFETY_MARGIN_MS < MIN_OPERATION_MS) {
      return Promise.reject(
        new RotationError(
          `Only ${Math.max(0, left)} ms of the rotation step were left, too little to ${what}: ` +
            'the step stopped before the function timeout. Secrets Manager retries it; if this ' +
            "repeats, look for a connection storm on the instance (DatabaseConnections) or raise the rotation function's timeout."
        )
      );
    }
    return operation();
  };
  const as = (credentials: DbCredentials) =>
    new Database({ credentials: new StaticCredentials(credentials), tls });
  return {
    canLogIn: (credentials) =>
      bounded(`log in as "${credentials.user}"`, () => canLogIn(credentials, tls, context)),
    changeOwnPassword: (user, password) =>
      bounded(`change the password of "${user.user}"`, () =>
        as(user).run(async (connection) => {
          const { sql, values } = ownPasswordChange(
            await sessionVersion(connection),
            accountText(password),
            accountText(user.password)
          );
          await connection.query(sql, values);
        }, context)
      ),
    setUserPassword: (admin, user, password) =>
      bounded(`set the password of "${user}"`, () =>
        as(admin).run(async (connection) => {
          // The plugin named as the migration names it (caching_sha2_password on MySQL); the
          // account was created locked until its first password (lambda/migration-resource.ts).
          await connection.query(
            `ALTER USER ?@'%' ${passwordClause(await sessionVersion(connection))} ACCOUNT UNLOCK`,
            [accountText(user), accountText(password)]
          );
        }, context)
      ),
  };
}

/** The database session's VERSION(), not a greeting's (a proxy's would differ). */
async function sessionVersion(connection: {
  query<T>(sql: string, values: unknown[]): Promise<T>;
}): Promise<string> {
  const [{ version }] = await connection.query<{ version: string }[]>(
    'SELECT VERSION() AS `version`',
    []
  );
  return version;
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
