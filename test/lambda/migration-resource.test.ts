import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { Connection, RowDataPacket, createConnection } from 'mysql2/promise';
import { TlsSettings } from '../../lambda/lib/config';
import { StaticCredentials } from '../../lambda/lib/credentials';
import { Database } from '../../lambda/lib/database';
import { MigrationDependencies, handleMigrationEvent } from '../../lambda/migration-resource';
import { ServerInfo, adminConnect } from '../support/private-server';
import { readState } from '../support/state';

// The deploy-time custom resource against a real MariaDB: schema, least-privilege users, and
// what those users can and cannot do.

const suffix = randomBytes(3).toString('hex');
const schema = `t_migration_${suffix}`;
const otherSchema = `t_other_${suffix}`;
const secrets: Record<string, { user: string; password: string }> = {
  'arn:writer': { user: `writer_${suffix}`, password: randomBytes(12).toString('hex') },
  'arn:reader': { user: `reader_${suffix}`, password: randomBytes(12).toString('hex') },
};
const properties = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
  SchemaVersion: 'v1',
  Users: [
    { Role: 'writer', SecretArn: 'arn:writer' },
    { Role: 'reader', SecretArn: 'arn:reader' },
  ],
};

let server: ServerInfo;
let admin: Connection;
let deps: MigrationDependencies;

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
function connectAs(arn: 'arn:writer' | 'arn:reader', database = schema): Promise<Connection> {
  return createConnection({
    host: server.host,
    port: server.port,
    ...secrets[arn],
    database,
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
  deps = { admin: new Database({ credentials, tls }), readUserSecret: async (arn) => secrets[arn] };
});

afterAll(async () => {
  for (const { user } of Object.values(secrets))
    await admin.query("DROP USER IF EXISTS ?@'%'", [user]);
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

  test('Create again changes nothing and fails on nothing', async () => {
    const before = await Promise.all(Object.values(secrets).map(({ user }) => grantsOf(user)));
    await expect(handleMigrationEvent(event('Create'), deps)).resolves.toMatchObject({
      PhysicalResourceId: `schema:${schema}`,
    });
    const after = await Promise.all(Object.values(secrets).map(({ user }) => grantsOf(user)));
    expect(after).toEqual(before);
  });

  test('Update applies a new migration and re-asserts TLS and grants, but leaves passwords to rotation', async () => {
    const reader = secrets['arn:reader'].user;
    // Mid-rotation the database already has the pending password: a deploy must not undo that.
    await admin.query("ALTER USER ?@'%' IDENTIFIED BY 'pending-password' REQUIRE NONE", [reader]);
    const newMigration = 'CREATE TABLE IF NOT EXISTS audit_log (id BIGINT PRIMARY KEY)';
    await handleMigrationEvent(event('Update'), { ...deps, extraMigrations: [newMigration] });

    const [tables] = await admin.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = 'audit_log'",
      [schema]
    );
    expect(tables[0].n).toBe(1);
    const [[created]] = await admin.query<RowDataPacket[]>("SHOW CREATE USER ?@'%'", [reader]);
    expect(String(Object.values(created)[0])).toMatch(/REQUIRE SSL/);
    await expect(connectAs('arn:reader')).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });
    await admin.query("ALTER USER ?@'%' IDENTIFIED BY ?", [reader, secrets['arn:reader'].password]);
    const connection = await connectAs('arn:reader');
    await connection.end();
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

  test('rejects malformed properties with a message that points at the stack code', async () => {
    const bad = {
      ...event('Create'),
      ResourceProperties: { ...properties, Users: [{ Role: 'admin', SecretArn: 'x' }] },
    };
    await expect(
      handleMigrationEvent(bad as CloudFormationCustomResourceEvent, deps)
    ).rejects.toThrow(/ResourceProperties.Users must be a list/);
  });
});
