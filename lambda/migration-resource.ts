import { randomBytes } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { DbCredentials, readDatabaseConfig } from './lib/config';
import { SqlConnection } from './lib/connection';
import { Database, InvocationContext } from './lib/database';
import { ConfigurationError } from './lib/errors';
import { createDatabase } from './lib/runtime';
import { passwordClause } from './lib/password-clause';
import { CLONE_SUFFIX, MAX_BASE_USER_LENGTH, alternateUsers } from './lib/rotation';
import { restartRotation } from './lib/rotation-recovery';
import { MIGRATION_DATABASE_OPTIONS } from './lib/server-bounds';
import { accountText } from './lib/sql-literals';
import { UserSecretState, canLogIn, readUserSecretState } from './lib/user-secret';
import { grantClauses } from './lib/grants';
import { SchemaModule } from './lib/schema-module';
import { migrate } from './migrate';
import { MigrationUser, readMigrationUsers, sameUsers } from './migration-users';

/**
 * The deploy-time custom resource: with the admin credentials (DB_SECRET_ARN), applies the
 * schema and makes one least-privilege MySQL user per declared function, each with the password
 * of its own secret, its declared grants and `REQUIRE SSL`. Which users, secrets and grants is
 * fixed at synth in the function's own configuration (MIGRATION_USERS), never taken from the
 * event: whoever may invoke it cannot have it give one function's grants to another's user. Runs on Create and Update (both idempotent, so a re-run is
 * harmless and a changed migration applies); Delete leaves data and users alone. A user whose
 * secret no longer opens the database (the secret was recreated) gets AWSCURRENT's password back,
 * unless a rotation is in progress.
 */

/** ResourceProperties, as the stack passes them (CloudFormation turns every value into a string). */
export interface MigrationProperties {
  /**
   * The users of the function's configuration, as role and secret: a change makes CloudFormation
   * send an Update. When present, it must equal the configuration's (checked, never used).
   */
  readonly Users?: { readonly Role: string; readonly SecretArn: string }[];
  /** Changes whenever the schema statements or the grants change, so CloudFormation sends an Update. */
  readonly SchemaVersion: string;
}

export interface MigrationResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** How the handler reaches its secrets and the database; tests pass local ones. */
export interface MigrationDependencies {
  readonly admin: Database;
  /** The users to create, with their secrets and grants: MIGRATION_USERS in the deployed function. */
  readonly users: readonly MigrationUser[];
  /**
   * The schema modules to apply.
   * @default SCHEMA_MODULES (lambda/schema-modules.ts)
   */
  readonly schemaModules?: readonly SchemaModule[];
  /** A user secret's AWSCURRENT credentials and, during a rotation, its pending version. */
  readonly readUserSecret: (secretArn: string) => Promise<UserSecretState>;
  /** Whether the database accepts these credentials, over TLS as the functions connect. */
  readonly canLogIn: (credentials: DbCredentials) => Promise<boolean>;
  /** Runs extra statements after the shipped schema (tests use it to stand for a new migration). */
  readonly extraMigrations?: readonly string[];
  /** Where password resets and rotation warnings are reported. @default console.warn (the function's log) */
  readonly log?: (message: string) => void;
}

const USERNAME = /^[a-z_][a-z0-9_]{0,31}$/;

export async function handler(
  event: CloudFormationCustomResourceEvent,
  context?: InvocationContext
): Promise<MigrationResult> {
  if (event.RequestType === 'Delete') {
    // Before reading any configuration: a stack must always be deletable.
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
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
  if (!sameUsers(event.ResourceProperties?.Users, deps.users)) {
    throw new ConfigurationError(
      'The event names other users or secrets than this function was deployed with: the ' +
        'migration creates only the users of its own configuration (MIGRATION_USERS, set by ' +
        'lib/schema-migration.ts from the declared functions). To run it by hand, send ' +
        '{"RequestType":"Update"} (docs/rotation.md#running-the-migration-by-hand).'
    );
  }
  const userSecrets = await Promise.all(
    deps.users.map(async ({ role, secretArn, grants }) => ({
      role,
      secretArn,
      grants,
      state: await deps.readUserSecret(secretArn),
    }))
  );
  const database = await deps.admin.run(async (connection) => {
    // VERSION() in the same round trip: the database session's, not a greeting's.
    const [{ schema, version }] = await connection.query<{ schema: string; version: string }[]>(
      'SELECT DATABASE() AS `schema`, VERSION() AS `version`',
      []
    );
    const identified = passwordClause(version);
    if (!schema) {
      throw new ConfigurationError(
        'The admin secret names no database (dbname): cannot tell which schema to migrate.'
      );
    }
    await migrate({ query: (sql) => connection.query(sql, []) }, { modules: deps.schemaModules });
    for (const statement of deps.extraMigrations ?? []) {
      await connection.query(statement, []);
    }
    for (const { role, secretArn, grants, state } of userSecrets) {
      await ensureRoleUsers(
        connection,
        role,
        state.current,
        grantClauses(grants, schema),
        identified
      );
      // While the admin session is open: the check is one more short connection, as that user.
      await restoreLockedOutUser(connection, deps, role, secretArn, state, identified);
    }
    return schema;
  }, context);
  return { PhysicalResourceId: `schema:${database}`, Data: { Database: database } };
}

/**
 * Makes both users of a role (alternating-users rotation, lambda/lib/rotation.ts): the one the
 * secret names now, with its password, and the other of the pair, locked with a password nobody
 * has until a rotation sets one and unlocks it. Both get `REQUIRE SSL` and the same `grants`
 * (`GRANT <these> TO <user>` fragments). An existing user's password is left to rotation and
 * `restoreLockedOutUser`; an existing user is never locked. `identified` is `passwordClause()`'s:
 * the plugin named on MySQL.
 */
async function ensureRoleUsers(
  connection: SqlConnection,
  role: string,
  { user, password }: DbCredentials,
  grants: readonly string[],
  identified: string
) {
  const [base, clone] = alternateUsers(user);
  if (!USERNAME.test(base) || base.length > MAX_BASE_USER_LENGTH) {
    throw new ConfigurationError(
      `The ${role} secret's username "${user}" is not a plain MySQL user name of at most ` +
        `${MAX_BASE_USER_LENGTH} characters (a-z, 0-9, _): rotation adds "${CLONE_SUFFIX}" for ` +
        'its second user, and MySQL allows 32.'
    );
  }
  for (const name of [base, clone]) {
    const current = name === user;
    // Account names and passwords must be quoted strings in MySQL's grammar (sql-literals.ts).
    // The clause order is MySQL 8.4's and MariaDB's: auth, REQUIRE, then the lock option
    // (https://dev.mysql.com/doc/refman/8.4/en/create-user.html).
    await connection.query(
      `CREATE USER IF NOT EXISTS ?@'%' ${identified} REQUIRE SSL${current ? '' : ' ACCOUNT LOCK'}`,
      [accountText(name), accountText(current ? password : randomBytes(24).toString('base64url'))]
    );
    await connection.query("ALTER USER ?@'%' REQUIRE SSL", [accountText(name)]);
    for (const privileges of grants) {
      await connection.query(`GRANT ${privileges} TO ?@'%'`, [accountText(name)]);
    }
  }
}

/**
 * Rotation owns an existing user's password, and a deploy that lands mid-rotation must not set
 * the database back to the password being replaced. But when neither AWSCURRENT nor a pending
 * version can log in and no rotation is in progress, the secret was replaced (a new stack over a
 * restored snapshot, a secret deleted and recreated): nothing else will ever fix that, so the
 * password is set to AWSCURRENT.
 */
async function restoreLockedOutUser(
  connection: SqlConnection,
  deps: MigrationDependencies,
  role: string,
  secretArn: string,
  state: UserSecretState,
  identified: string
): Promise<void> {
  const log = deps.log ?? ((message: string) => console.warn(message));
  if (await opensTheDatabase(deps, state)) return;
  // Decide on fresh facts: a rotation may have started since the secret was read.
  const fresh = await deps.readUserSecret(secretArn);
  if (fresh.pendingVersionId) {
    if (await opensTheDatabase(deps, fresh)) return;
    log(
      `The ${role} user "${fresh.current.user}" cannot log in with AWSCURRENT or AWSPENDING of ` +
        `${secretArn}, and a rotation is in progress (AWSPENDING on version ${fresh.pendingVersionId}): ` +
        "its password is left to the rotation. If that rotation failed (see its function's log): " +
        restartRotation(
          secretArn,
          fresh.pendingVersionId,
          'run the migration again (docs/rotation.md#running-the-migration-by-hand)'
        ) +
        '.'
    );
    return;
  }
  if (fresh.current.user !== state.current.user) {
    throw new ConfigurationError(
      `The ${role} secret ${secretArn} changed its username while the migration ran; deploy again.`
    );
  }
  await connection.query(`ALTER USER ?@'%' ${identified} ACCOUNT UNLOCK`, [
    accountText(fresh.current.user),
    accountText(fresh.current.password),
  ]);
  if (!(await deps.canLogIn(fresh.current))) {
    throw new ConfigurationError(
      `The ${role} user "${fresh.current.user}" still cannot log in after its password was set ` +
        `to AWSCURRENT of ${secretArn}: check that the secret's host, port and dbname name this database.`
    );
  }
  log(
    `The ${role} user "${fresh.current.user}" could not log in with its secret (${secretArn}) ` +
      'and no rotation was in progress: its password was set to AWSCURRENT.'
  );
}

async function opensTheDatabase(
  deps: MigrationDependencies,
  { current, pending }: UserSecretState
): Promise<boolean> {
  if (await deps.canLogIn(current)) return true;
  return pending !== undefined && (await deps.canLogIn(pending));
}

function defaultDependencies(): MigrationDependencies {
  // Region, endpoint (AWS_ENDPOINT_URL_SECRETS_MANAGER) and credentials come from the environment.
  const secretsManager = new SecretsManagerClient({ maxAttempts: 3 });
  const { tls } = readDatabaseConfig();
  return {
    // DDL waits for running statements' locks: longer session bounds than the functions'.
    admin: createDatabase(MIGRATION_DATABASE_OPTIONS),
    users: readMigrationUsers(process.env.MIGRATION_USERS),
    readUserSecret: (secretArn) => readUserSecretState(secretsManager, secretArn),
    canLogIn: (credentials) => canLogIn(credentials, tls),
  };
}
