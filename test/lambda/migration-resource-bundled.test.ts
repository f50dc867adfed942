import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Connection, RowDataPacket, createConnection } from 'mysql2/promise';
import { LambdaEnvironment } from '../support/lambda-environment';
import { ServerInfo, adminConnect } from '../support/private-server';
import { SecretsEndpoint } from '../support/secrets-endpoint';
import { readState } from '../support/state';
import { declaredMigrationUsers, eventUsers } from '../support/migration-users';

// The custom resource as it deploys: the bundled handler in a simulated environment, configured
// only by DB_SECRET_ARN (the admin secret), reading every secret through the real AWS SDK client
// from a local Secrets Manager endpoint, over TLS verified against the server's CA. The
// behaviour in detail (re-runs, updates, grants) is in migration-resource.test.ts.

const suffix = randomBytes(3).toString('hex');
const schema = `t_deployed_${suffix}`;
const users = {
  writer: {
    arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:writer-${suffix}`,
    username: `writer_${suffix}`,
  },
  reader: {
    arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:reader-${suffix}`,
    username: `reader_${suffix}`,
  },
};
const migrationUsers = declaredMigrationUsers((role) => users[role].arn);
const passwords = {
  writer: randomBytes(12).toString('hex'),
  reader: randomBytes(12).toString('hex'),
};

let server: ServerInfo;
let admin: Connection;
let secrets: SecretsEndpoint;
let migration: LambdaEnvironment;

beforeAll(async () => {
  server = readState().server;
  admin = await adminConnect(server);
  await admin.query(`CREATE DATABASE ${schema}`);
  secrets = await SecretsEndpoint.start();
  const endpoint = { host: server.host, port: server.port, dbname: schema };
  secrets.set('AWSCURRENT', {
    ...endpoint,
    username: server.adminUser,
    password: server.adminPassword,
  });
  for (const role of ['writer', 'reader'] as const) {
    secrets.addSecret(users[role].arn, {
      ...endpoint,
      username: users[role].username,
      password: passwords[role],
    });
  }
  migration = await LambdaEnvironment.start('migration', {
    ...secrets.env(),
    // What lib/schema-migration.ts sets: the users are the function's configuration.
    MIGRATION_USERS: JSON.stringify(migrationUsers),
    ...(server.caFile ? { DB_TLS_CA_FILE: server.caFile } : {}),
  });
});

afterAll(async () => {
  await migration?.stop();
  await secrets?.stop();
  for (const { username } of Object.values(users)) {
    await admin.query("DROP USER IF EXISTS ?@'%'", [username]);
  }
  await admin.query(`DROP DATABASE IF EXISTS ${schema}`);
  await admin.end();
});

function connectAsWriter(): Promise<Connection> {
  return createConnection({
    host: server.host,
    port: server.port,
    user: users.writer.username,
    password: passwords.writer,
    database: schema,
    ssl: server.caFile ? { ca: readFileSync(server.caFile, 'utf8') } : undefined,
  });
}

function migrationEvent(RequestType: 'Create' | 'Update') {
  return {
    RequestType,
    ...(RequestType === 'Update' ? { PhysicalResourceId: `schema:${schema}` } : {}),
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
    ResponseURL: 'https://example.com/response',
    StackId: 'stack',
    RequestId: 'request',
    LogicalResourceId: 'SchemaMigration',
    ResourceType: 'Custom::SchemaMigration',
    ResourceProperties: {
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
      SchemaVersion: 'v1',
      Users: eventUsers(migrationUsers),
    },
  };
}

// The custom resource's 5-minute timeout (lib/schema-migration.ts): the migration's longer
// session bounds need it.
const MIGRATION_TIME = { remainingMs: 5 * 60_000 };

test('a Create event migrates the schema and creates users that can log in with their secrets', async () => {
  const result = await migration.invoke(migrationEvent('Create'), MIGRATION_TIME);
  expect(result).toEqual({ PhysicalResourceId: `schema:${schema}`, Data: { Database: schema } });

  const writer = await connectAsWriter();
  try {
    const [rows] = await writer.query<RowDataPacket[][]>('CALL upsert_user_v1(?, ?)', [
      'd@example.com',
      'D',
    ]);
    expect(rows[0][0]).toMatchObject({ email: 'd@example.com', version: 1 });
  } finally {
    await writer.end();
  }
});

test('an Update after the writer secret was replaced gives the writer its secret password back', async () => {
  await admin.query("ALTER USER ?@'%' IDENTIFIED BY 'the-replaced-secret'", [
    users.writer.username,
  ]);
  await expect(connectAsWriter()).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });

  await migration.invoke(migrationEvent('Update'), MIGRATION_TIME);

  await (await connectAsWriter()).end();
});

test('run by hand with the event docs/rotation.md gives (no CloudFormation fields), it restores a locked-out user', async () => {
  await admin.query("ALTER USER ?@'%' IDENTIFIED BY 'locked-out'", [users.writer.username]);
  await expect(connectAsWriter()).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });

  // What `aws lambda invoke --payload` sends in "Running the migration by hand".
  await migration.invoke({ RequestType: 'Update' }, MIGRATION_TIME);

  await (await connectAsWriter()).end();
});

test("an invoker cannot steer it: an event giving the writer's role to the reader's secret is refused, and the reader keeps its grants", async () => {
  const readerGrants = async () =>
    (await admin.query<RowDataPacket[]>("SHOW GRANTS FOR ?@'%'", [users.reader.username]))[0]
      .map((row) => String(Object.values(row)[0]))
      .sort();
  const before = await readerGrants();

  await expect(
    migration.invoke(
      {
        RequestType: 'Update',
        ResourceProperties: { Users: [{ Role: 'writer', SecretArn: users.reader.arn }] },
      },
      MIGRATION_TIME
    )
  ).rejects.toMatchObject({
    name: 'ConfigurationError',
    message: expect.stringMatching(
      /names other users or secrets than this function was deployed with/
    ),
  });
  expect(await readerGrants()).toEqual(before);
  expect(before.join('\n')).not.toMatch(/INSERT|UPDATE|EXECUTE/);
});
