import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { SqlConnection } from './lib/connection';
import { SecretsManagerCredentials } from './lib/credentials';
import { Database, InvocationContext } from './lib/database';
import { ConfigurationError } from './lib/errors';
import { createDatabase } from './lib/runtime';
import { MIGRATION_DATABASE_OPTIONS } from './lib/server-bounds';
import { AppRole, migrate, privilegesFor } from './migrate';

/**
 * The deploy-time custom resource: with the admin credentials (DB_SECRET_ARN), applies the
 * schema and makes one least-privilege MySQL user per function, each with the password of its
 * own secret and `REQUIRE SSL`. Runs on Create and Update (both idempotent, so a re-run is
 * harmless and a changed migration applies); Delete leaves data and users alone.
 */

/** ResourceProperties, as the stack passes them (CloudFormation turns every value into a string). */
export interface MigrationProperties {
  /** One entry per function user: its role and the secret (RDS JSON format) holding its password. */
  readonly Users: { readonly Role: AppRole; readonly SecretArn: string }[];
  /** Changes whenever the schema statements change, so CloudFormation sends an Update. */
  readonly SchemaVersion: string;
}

export interface MigrationResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** How the handler reaches its secrets and the database; tests pass local ones. */
export interface MigrationDependencies {
  readonly admin: Database;
  /** The credentials of the user that a secret describes (its username and password). */
  readonly readUserSecret: (secretArn: string) => Promise<{ user: string; password: string }>;
  /** Runs extra statements after the shipped schema (tests use it to stand for a new migration). */
  readonly extraMigrations?: readonly string[];
}

const USERNAME = /^[a-z_][a-z0-9_]{0,31}$/;

export async function handler(
  event: CloudFormationCustomResourceEvent,
  context?: InvocationContext
): Promise<MigrationResult> {
  return handleMigrationEvent(event, defaultDependencies(), context);
}

export async function handleMigrationEvent(
  event: CloudFormationCustomResourceEvent,
  deps: MigrationDependencies,
  context?: InvocationContext
): Promise<MigrationResult> {
  if (event.RequestType === 'Delete') {
    // Dropping the schema or the users with the stack would destroy data a snapshot may still
    // need; the database's own removal policy decides their fate.
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const users = parseUsers(event.ResourceProperties);
  const userCredentials = await Promise.all(
    users.map(async ({ Role, SecretArn }) => ({
      role: Role,
      ...(await deps.readUserSecret(SecretArn)),
    }))
  );
  const database = await deps.admin.run(async (connection) => {
    const [{ schema }] = await connection.query<{ schema: string }[]>(
      'SELECT DATABASE() AS `schema`',
      []
    );
    if (!schema) {
      throw new ConfigurationError(
        'The admin secret names no database (dbname): cannot tell which schema to migrate.'
      );
    }
    await migrate({ query: (sql) => connection.query(sql, []) });
    for (const statement of deps.extraMigrations ?? []) {
      await connection.query(statement, []);
    }
    for (const { role, user, password } of userCredentials) {
      await ensureUser(connection, role, user, password, schema);
    }
    return schema;
  }, context);
  return { PhysicalResourceId: `schema:${database}`, Data: { Database: database } };
}

/**
 * Creates the user with its secret's password, or brings an existing one back to TLS-only and
 * its grants. An existing user's password is left alone: rotation owns it, and a deploy that
 * lands mid-rotation must not set the database back to the password being replaced.
 */
async function ensureUser(
  connection: SqlConnection,
  role: AppRole,
  user: string,
  password: string,
  schema: string
) {
  if (!USERNAME.test(user)) {
    throw new ConfigurationError(
      `The ${role} secret's username "${user}" is not a plain MySQL user name (a-z, 0-9, _).`
    );
  }
  await connection.query("CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ? REQUIRE SSL", [
    user,
    password,
  ]);
  await connection.query("ALTER USER ?@'%' REQUIRE SSL", [user]);
  for (const privileges of privilegesFor(role, schema)) {
    await connection.query(`GRANT ${privileges} TO ?@'%'`, [user]);
  }
}

function parseUsers(properties: Record<string, unknown>): MigrationProperties['Users'] {
  const users = properties.Users;
  if (
    !Array.isArray(users) ||
    !users.every(
      (u) => (u?.Role === 'writer' || u?.Role === 'reader') && typeof u?.SecretArn === 'string'
    )
  ) {
    throw new ConfigurationError(
      'ResourceProperties.Users must be a list of { Role: "writer" | "reader", SecretArn } (set by lib/schema-migration.ts).'
    );
  }
  return users;
}

function defaultDependencies(): MigrationDependencies {
  return {
    // DDL waits for running statements' locks: longer session bounds than the functions'.
    admin: createDatabase(MIGRATION_DATABASE_OPTIONS),
    readUserSecret: async (secretArn) => {
      const { user, password } = await new SecretsManagerCredentials(secretArn).current();
      return { user, password };
    },
  };
}
