import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { Connection, RowDataPacket, createConnection } from 'mysql2/promise';
import { TlsSettings } from '../../lambda/lib/config';
import { StaticCredentials } from '../../lambda/lib/credentials';
import { Database } from '../../lambda/lib/database';
import {
  canLogIn,
  pendingRotationVersion,
  readUserSecretState,
} from '../../lambda/lib/user-secret';
import { MigrationDependencies, handleMigrationEvent } from '../../lambda/migration-resource';
import { ServerInfo, adminConnect } from '../support/private-server';
import { SecretsEndpoint } from '../support/secrets-endpoint';
import { readState } from '../support/state';
import { declaredMigrationUsers, eventUsers } from '../support/migration-users';

// The deploy-time custom resource against a real MariaDB, reading the user secrets through the
// real AWS SDK from a local Secrets Manager endpoint: schema, least-privilege users, what those
// users can and cannot do, and how their passwords follow their secrets.

const suffix = randomBytes(3).toString('hex');
const schema = `t_migration_${suffix}`;
const otherSchema = `t_other_${suffix}`;
const secrets: Record<string, { user: string; password: string }> = {
  'arn:writer': { user: `writer_${suffix}`, password: randomBytes(12).toString('hex') },
  'arn:reader': { user: `reader_${suffix}`, password: randomBytes(12).toString('hex') },
};
const migrationUsers = declaredMigrationUsers((role) => `arn:${role}`);
const properties = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
  SchemaVersion: 'v1',
  Users: eventUsers(migrationUsers),
};

let server: ServerInfo;
let admin: Connection;
let secretsEndpoint: SecretsEndpoint;
let deps: MigrationDependencies;
const warnings: string[] = [];

/** Publishes a stage of a user's secret on the local Secrets Manager endpoint. */
function putSecret(
  arn: 'arn:writer' | 'arn:reader',
  password: string,
  stage: 'AWSCURRENT' | 'AWSPENDING' = 'AWSCURRENT'
): void {
  secretsEndpoint.addSecret(
    arn,
    { host: server.host, port: server.port, username: secrets[arn].user, password, dbname: schema },
    stage
  );
}

/** Sets a user's password behind the secret's back, as a replaced secret leaves it. */
async function setPasswordOnServer(arn: 'arn:writer' | 'arn:reader', password: string) {
  await admin.query("ALTER USER ?@'%' IDENTIFIED BY ?", [secrets[arn].user, password]);
}

function event(type: 'Create' | 'Update' | 'Delete'): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: properties.ServiceToken,
    ResponseURL: 'https://example.com/response',
    StackId: 'stack',
    RequestId: randomBytes(4).toString('hex'),
    LogicalResourceId: 'SchemaMigration',
    ResourceType: 'Custom::SchemaMigration',
    ResourceProperties: properties,
  };
  if (type === 'Create') return { ...common, RequestType: 'Create' };
  return {
    ...common,
    RequestType: type,
    PhysicalResourceId: `schema:${schema}`,
    OldResourceProperties: properties,
  } as CloudFormationCustomResourceEvent;
}

/** Connects as a function user, over TLS as the functions do. */
function connectAs(
  arn: 'arn:writer' | 'arn:reader',
  password = secrets[arn].password
): Promise<Connection> {
  return createConnection({
    host: server.host,
    port: server.port,
    user: secrets[arn].user,
    password,
    database: schema,
    ssl: server.caFile ? { ca: readFileSync(server.caFile, 'utf8') } : undefined,
  });
}

async function grantsOf(user: string): Promise<string[]> {
  const [rows] = await admin.query<RowDataPacket[]>("SHOW GRANTS FOR ?@'%'", [user]);
  return rows.map((row) => String(Object.values(row)[0])).sort();
}

beforeAll(async () => {
  server = readState().server;
  admin = await adminConnect(server);
  await admin.query(`CREATE DATABASE ${schema}`);
  await admin.query(`CREATE DATABASE ${otherSchema}`);
  await admin.query(`CREATE TABLE ${otherSchema}.secrets (v INT)`);
  const tls: TlsSettings | undefined = server.caFile
    ? {
        ca: readFileSync(server.caFile, 'utf8'),
        rejectUnauthorized: true,
        verifyIdentity: true,
        minVersion: 'TLSv1.2',
      }
    : undefined;
  const credentials = new StaticCredentials({
    host: server.host,
    port: server.port,
    user: server.adminUser,
    password: server.adminPassword,
    database: schema,
  });
  secretsEndpoint = await SecretsEndpoint.start();
  for (const arn of ['arn:writer', 'arn:reader'] as const) putSecret(arn, secrets[arn].password);
  const client = new SecretsManagerClient({
    endpoint: secretsEndpoint.env().AWS_ENDPOINT_URL_SECRETS_MANAGER,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  deps = {
    // The deployed migration has its function's 5 minutes (lib/schema-migration.ts), not the 8 s
    // default a Database without a Lambda context gets.
    admin: new Database({ credentials, tls, defaultBudgetMs: 60_000 }),
    users: migrationUsers,
    readUserSecret: (arn) => readUserSecretState(client, arn),
    canLogIn: (userCredentials) => canLogIn(userCredentials, tls),
    log: (message) => warnings.push(message),
  };
});

afterAll(async () => {
  await secretsEndpoint?.stop();
  for (const { user } of Object.values(secrets)) {
    await admin.query("DROP USER IF EXISTS ?@'%'", [user]);
    await admin.query("DROP USER IF EXISTS ?@'%'", [`${user}_clone`]);
  }
  await admin.query(`DROP DATABASE IF EXISTS ${schema}`);
  await admin.query(`DROP DATABASE IF EXISTS ${otherSchema}`);
  await admin.end();
});

describe('schema migration custom resource', () => {
  test('Create applies the schema and creates the writer and reader users with REQUIRE SSL', async () => {
    const result = await handleMigrationEvent(event('Create'), deps);
    expect(result).toEqual({ PhysicalResourceId: `schema:${schema}`, Data: { Database: schema } });

    const [tables] = await admin.query<RowDataPacket[]>(
      'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ?',
      [schema]
    );
    expect(tables.map((r) => r.t)).toEqual(['users']);
    for (const { user } of Object.values(secrets)) {
      const [[row]] = await admin.query<RowDataPacket[]>("SHOW CREATE USER ?@'%'", [user]);
      expect(String(Object.values(row)[0])).toMatch(/REQUIRE SSL/);
    }
  });

  test('Create makes the second user of each role (alternating-users rotation): same grants, REQUIRE SSL, locked', async () => {
    for (const { user } of Object.values(secrets)) {
      const clone = `${user}_clone`;
      // The grants, without the password hash (the users' passwords differ on purpose).
      const privileges = async (name: string) =>
        (await grantsOf(name)).map((g) =>
          g.replace(name, 'USER').replace(/ IDENTIFIED BY PASSWORD '[^']*'/, '')
        );
      expect(await privileges(clone)).toEqual(await privileges(user));
      const [[row]] = await admin.query<RowDataPacket[]>("SHOW CREATE USER ?@'%'", [clone]);
      expect(String(Object.values(row)[0])).toMatch(/REQUIRE SSL.*ACCOUNT LOCK/s);
      // Nobody can log in as it until a rotation sets its password (and unlocks it).
      const secret = (await deps.readUserSecret('arn:writer')).current;
      expect(await deps.canLogIn({ ...secret, user: clone })).toBe(false);
    }
  });

  test('Create again changes nothing and fails on nothing', async () => {
    const before = await Promise.all(Object.values(secrets).map(({ user }) => grantsOf(user)));
    await expect(handleMigrationEvent(event('Create'), deps)).resolves.toMatchObject({
      PhysicalResourceId: `schema:${schema}`,
    });
    const after = await Promise.all(Object.values(secrets).map(({ user }) => grantsOf(user)));
    expect(after).toEqual(before);
  });

  test('Update applies a new migration and re-asserts TLS and grants, but leaves a rotation in progress alone', async () => {
    const reader = secrets['arn:reader'].user;
    // Mid-rotation (single user) the database already has the pending password, and the secret
    // has an AWSPENDING version besides AWSCURRENT: a deploy must not undo that.
    putSecret('arn:reader', 'pending-password', 'AWSPENDING');
    await admin.query("ALTER USER ?@'%' IDENTIFIED BY 'pending-password' REQUIRE NONE", [reader]);
    const newMigration = 'CREATE TABLE IF NOT EXISTS audit_log (id BIGINT PRIMARY KEY)';
    try {
      await handleMigrationEvent(event('Update'), { ...deps, extraMigrations: [newMigration] });

      const [tables] = await admin.query<RowDataPacket[]>(
        "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = 'audit_log'",
        [schema]
      );
      expect(tables[0].n).toBe(1);
      const [[created]] = await admin.query<RowDataPacket[]>("SHOW CREATE USER ?@'%'", [reader]);
      expect(String(Object.values(created)[0])).toMatch(/REQUIRE SSL/);
      await expect(connectAs('arn:reader')).rejects.toMatchObject({
        code: 'ER_ACCESS_DENIED_ERROR',
      });
      await (await connectAs('arn:reader', 'pending-password')).end();
    } finally {
      secretsEndpoint.removeStage('arn:reader', 'AWSPENDING');
      await setPasswordOnServer('arn:reader', secrets['arn:reader'].password);
    }
    await (await connectAs('arn:reader')).end();
  });

  test('a user that neither AWSCURRENT nor AWSPENDING can log in as, with no rotation in progress, gets AWSCURRENT back', async () => {
    // The secret was deleted and recreated (or the stack is new over a restored snapshot): the
    // database still has the old secret's password.
    await setPasswordOnServer('arn:writer', 'password-of-a-deleted-secret');
    await expect(connectAs('arn:writer')).rejects.toMatchObject({
      code: 'ER_ACCESS_DENIED_ERROR',
    });

    await handleMigrationEvent(event('Update'), deps);

    const writer = await connectAs('arn:writer');
    try {
      const [rows] = await writer.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u');
      expect(rows[0].u).toBe(`${secrets['arn:writer'].user}@%`);
    } finally {
      await writer.end();
    }
    await expect(connectAs('arn:writer', 'password-of-a-deleted-secret')).rejects.toMatchObject({
      code: 'ER_ACCESS_DENIED_ERROR',
    });
    expect(warnings.at(-1)).toMatch(/writer user .* its password was set to AWSCURRENT/);
  });

  test('a rotation in progress is left alone even when neither of its passwords can log in', async () => {
    putSecret('arn:writer', 'next-password', 'AWSPENDING');
    await setPasswordOnServer('arn:writer', 'password-nobody-knows');
    try {
      await expect(handleMigrationEvent(event('Update'), deps)).resolves.toMatchObject({
        PhysicalResourceId: `schema:${schema}`,
      });
      await (await connectAs('arn:writer', 'password-nobody-knows')).end();
      expect(warnings.at(-1)).toMatch(
        /writer user .* a rotation is in progress \(AWSPENDING on version AWSPENDING-version\).*update-secret-version-stage --secret-id arn:writer --version-stage AWSPENDING --remove-from-version-id AWSPENDING-version/
      );
    } finally {
      secretsEndpoint.removeStage('arn:writer', 'AWSPENDING');
      await setPasswordOnServer('arn:writer', secrets['arn:writer'].password);
    }
  });

  test('a user whose password is AWSCURRENT is left as it is and nothing is reported', async () => {
    const before = warnings.length;
    await handleMigrationEvent(event('Update'), deps);
    expect(warnings).toHaveLength(before);
  });

  test('Delete leaves the data and the users alone', async () => {
    await admin.query(
      `INSERT INTO ${schema}.users (email, name) VALUES ('kept@example.com', 'Kept')`
    );
    await expect(handleMigrationEvent(event('Delete'), deps)).resolves.toEqual({
      PhysicalResourceId: `schema:${schema}`,
    });
    const [rows] = await admin.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${schema}.users`);
    expect(rows[0].n).toBe(1);
    expect(await grantsOf(secrets['arn:writer'].user)).not.toEqual([]);
  });

  test('the writer can upsert and read through the routine, nothing more', async () => {
    const writer = await connectAs('arn:writer');
    try {
      const [result] = await writer.query<RowDataPacket[][]>('CALL upsert_user_v1(?, ?)', [
        'w@example.com',
        'W',
      ]);
      expect(result[0][0]).toMatchObject({ email: 'w@example.com', version: 1 });
      await expect(writer.query('DROP TABLE users')).rejects.toMatchObject({
        code: 'ER_TABLEACCESS_DENIED_ERROR',
      });
      await expect(writer.query('DELETE FROM users')).rejects.toMatchObject({
        code: 'ER_TABLEACCESS_DENIED_ERROR',
      });
      await expect(writer.query('CREATE TABLE t (id INT)')).rejects.toMatchObject({
        code: 'ER_TABLEACCESS_DENIED_ERROR',
      });
      await expect(writer.query(`SELECT * FROM ${otherSchema}.secrets`)).rejects.toMatchObject({
        code: expect.stringMatching(/ER_TABLEACCESS_DENIED_ERROR|ER_DBACCESS_DENIED_ERROR/),
      });
      await expect(writer.query(`CREATE DATABASE ${otherSchema}_x`)).rejects.toMatchObject({
        code: 'ER_DBACCESS_DENIED_ERROR',
      });
    } finally {
      await writer.end();
    }
  });

  test('the reader can only SELECT from the app schema', async () => {
    const reader = await connectAs('arn:reader');
    try {
      const [rows] = await reader.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM users');
      expect(rows[0].n).toBeGreaterThan(0);
      for (const sql of [
        "INSERT INTO users (email, name) VALUES ('r@example.com', 'R')",
        "UPDATE users SET name = 'x'",
        'DELETE FROM users',
        'DROP TABLE users',
        'CREATE TABLE t (id INT)',
        'ALTER TABLE users ADD COLUMN x INT',
      ]) {
        await expect(reader.query(sql)).rejects.toMatchObject({
          code: 'ER_TABLEACCESS_DENIED_ERROR',
        });
      }
      await expect(reader.query("CALL upsert_user_v1('r@example.com', 'R')")).rejects.toMatchObject(
        {
          code: 'ER_PROCACCESS_DENIED_ERROR',
        }
      );
      await expect(reader.query(`SELECT * FROM ${otherSchema}.secrets`)).rejects.toMatchObject({
        code: expect.stringMatching(/ER_TABLEACCESS_DENIED_ERROR|ER_DBACCESS_DENIED_ERROR/),
      });
    } finally {
      await reader.end();
    }
  });

  test('refuses an event that names other users or secrets than its configuration, and grants nothing', async () => {
    const reader = secrets['arn:reader'].user;
    const before = await grantsOf(reader);
    // The confused deputy: the writer's grants for the reader's secret, asked by an invoker.
    for (const Users of [
      [{ Role: 'writer', SecretArn: 'arn:reader' }],
      [
        { Role: 'writer', SecretArn: 'arn:reader' },
        { Role: 'reader', SecretArn: 'arn:writer' },
      ],
      [...properties.Users, { Role: 'writer', SecretArn: 'arn:other' }],
      'writer',
    ]) {
      const bad = { ...event('Update'), ResourceProperties: { ...properties, Users } };
      await expect(
        handleMigrationEvent(bad as CloudFormationCustomResourceEvent, deps)
      ).rejects.toThrow(/names other users or secrets than this function was deployed with/);
    }
    expect(await grantsOf(reader)).toEqual(before);
  });
});

describe('rotation in progress', () => {
  test.each([
    ['AWSPENDING on its own version', { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] }, 'v2'],
    [
      'AWSPENDING on the AWSCURRENT version (finished)',
      { v1: ['AWSCURRENT', 'AWSPENDING'] },
      undefined,
    ],
    ['no AWSPENDING', { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] }, undefined],
    ['no versions listed', undefined, undefined],
  ])('%s', (_, versions, expected) => {
    expect(pendingRotationVersion(versions)).toBe(expected);
  });
});
