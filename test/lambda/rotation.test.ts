import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import {
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { createConnection } from 'mysql2/promise';
import { PASSWORD_EXCLUDED_CHARACTERS, PASSWORD_LENGTH } from '../../lambda/lib/password-policy';
import { AppDatabase } from '../support/app-database';
import { CachingSha2Front } from '../support/caching-sha2-front';
import { InvocationError, LambdaEnvironment } from '../support/lambda-environment';
import { adminConnect } from '../support/private-server';
import { SecretsEndpoint } from '../support/secrets-endpoint';
import { readState } from '../support/state';

// The stack's rotation function as it ships (lambda/rotate.ts, bundled), driven step by step the
// way Secrets Manager drives it, through the real AWS SDK client against a local endpoint that
// keeps versions and labels as Secrets Manager does, on the run's TLS server.

const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:writer-rotation';
// A server of your own (MYSQL_URL) has no certificate key here to front it with.
const withFront = readState().server.dir ? test : test.skip;

let db: AppDatabase;
let secrets: SecretsEndpoint;
let rotator: LambdaEnvironment;
let writer: LambdaEnvironment;

beforeAll(async () => {
  db = await AppDatabase.create('rotation');
  secrets = await SecretsEndpoint.start(ARN);
  const env = {
    ...secrets.env(),
    ...(db.server.caFile ? { DB_TLS_CA_FILE: db.server.caFile } : {}),
  };
  rotator = await LambdaEnvironment.start('rotation', {
    ...env,
    EXCLUDE_CHARACTERS: PASSWORD_EXCLUDED_CHARACTERS,
    PASSWORD_LENGTH: String(PASSWORD_LENGTH),
  });
  writer = await LambdaEnvironment.start('writer', env);
  writerPassword = db.users.writer.password;
});

afterAll(async () => {
  await rotator?.stop();
  await writer?.stop();
  await secrets?.stop();
  await db?.dispose();
});

const step = (Step: string, ClientRequestToken: string, SecretId = ARN) =>
  rotator.invoke({ SecretId, ClientRequestToken, Step }, { remainingMs: 30_000 });

async function rotate(secretId = ARN): Promise<string> {
  const token = randomUUID();
  secrets.startRotation(secretId, token);
  for (const name of STEPS) await step(name, token, secretId);
  return token;
}

/** The writer's password on the database now: each test that rotates it updates this. */
let writerPassword: string;
let n = 0;
const write = () => writer.invoke({ email: 'rotation@example.com', name: `v${++n}` });

describe('single-user rotation (the admin secret) by the stack’s own function', () => {
  test('rotates the password on the database and in the secret, keeps every other field, and the writer keeps working throughout', async () => {
    secrets.addRotatingSecret(ARN, { ...db.secret('writer'), ssl: false });
    await write();
    const before = secrets.valueAt(ARN, 'AWSCURRENT')!;

    const token = randomUUID();
    secrets.startRotation(ARN, token);
    await step('createSecret', token);
    await step('setSecret', token);
    // Between setSecret and finishSecret the database has the new password and AWSCURRENT the
    // old one: the writer finds AWSPENDING (lambda/lib/credentials.ts).
    await write();
    await step('testSecret', token);
    await step('finishSecret', token);

    const after = secrets.valueAt(ARN, 'AWSCURRENT')!;
    expect(secrets.versionsOf(ARN)).toEqual({
      'initial-version': ['AWSPREVIOUS'],
      [token]: expect.arrayContaining(['AWSCURRENT']),
    });
    expect({ ...after, password: '…' }).toEqual({ ...before, password: '…' });
    const password = after.password as string;
    expect(password).not.toBe(before.password);
    expect(password).toHaveLength(PASSWORD_LENGTH);
    expect([...password].filter((c) => PASSWORD_EXCLUDED_CHARACTERS.includes(c))).toEqual([]);
    expect(await canLogIn(password)).toBe(true);
    expect(await canLogIn(before.password as string)).toBe(false);
    writerPassword = password;
    await write();
  });

  test('a step called again does nothing twice: one new password, one password change', async () => {
    secrets.addRotatingSecret(ARN, db.secret('writer', { password: writerPassword }));
    const token = randomUUID();
    secrets.startRotation(ARN, token);
    secrets.calls.length = 0;
    await step('createSecret', token);
    const pending = secrets.valueAt(ARN, 'AWSPENDING');
    await step('createSecret', token);
    expect(secrets.valueAt(ARN, 'AWSPENDING')).toEqual(pending);
    await step('setSecret', token);
    await step('setSecret', token); // as after a lost answer: the database already accepts it
    for (const name of ['testSecret', 'finishSecret', 'finishSecret']) await step(name, token);
    expect(secrets.calls.filter((c) => c.startsWith('GetRandomPassword'))).toHaveLength(1);
    expect(secrets.calls.filter((c) => c.startsWith('PutSecretValue'))).toHaveLength(1);
    expect(secrets.calls.filter((c) => c.startsWith('UpdateSecretVersionStage'))).toHaveLength(1);
    writerPassword = pending!.password as string;
    expect(await canLogIn(writerPassword)).toBe(true);
  });

  test('when the database accepts neither AWSCURRENT nor AWSPREVIOUS, setSecret fails saying how to recover, and nothing changes', async () => {
    const password = writerPassword;
    secrets.addRotatingSecret(ARN, db.secret('writer', { password: 'not-the-password' }));
    const token = randomUUID();
    secrets.startRotation(ARN, token);
    await step('createSecret', token);
    await expect(step('setSecret', token)).rejects.toThrow(
      /denied "writer_\w+" with AWSCURRENT and AWSPREVIOUS.*Set it to AWSCURRENT.s password/
    );
    expect(await canLogIn(password)).toBe(true);
    expect(secrets.versionsOf(ARN)['initial-version']).toEqual(['AWSCURRENT']);
  });

  test('a step for a version that is not AWSPENDING, or an unknown step, is refused', async () => {
    secrets.addRotatingSecret(ARN, db.secret('writer', { password: writerPassword }));
    await expect(step('createSecret', randomUUID())).rejects.toThrow(
      /has no version .* to rotate to/
    );
    const token = randomUUID();
    secrets.startRotation(ARN, token);
    await expect(step('dropSecret', token)).rejects.toThrow(InvocationError);
  });

  withFront(
    'never falls back to plaintext: against a server without TLS no password is sent',
    async () => {
      const plain = await CachingSha2Front.start(db.server, { tls: false });
      try {
        const password = writerPassword;
        const id = `${ARN}-plaintext`;
        secrets.addRotatingSecret(id, db.secret('writer', { port: plain.port, password }));
        const token = randomUUID();
        secrets.startRotation(id, token);
        await step('createSecret', token, id);
        await expect(step('setSecret', token, id)).rejects.toThrow(/TLS|SSL|secure/i);
        const sent = Buffer.concat(plain.wireBytes);
        for (const secret of [password, secrets.valueAt(id, 'AWSPENDING')!.password as string]) {
          expect(sent.includes(Buffer.from(secret))).toBe(false);
        }
        expect(plain.logins.filter((l) => !l.secure && l.ok)).toEqual([]);
        expect(await canLogIn(password)).toBe(true);
      } finally {
        await plain.stop();
      }
    }
  );

  withFront(
    'on MySQL 8.4 with password_require_current ON the account keeps caching_sha2_password and logs in with the new password',
    async () => {
      // password_require_current ON (an RDS parameter): an own password change must name the
      // current password with REPLACE (ER_MISSING_CURRENT_PASSWORD otherwise).
      const mysql = await CachingSha2Front.start(db.server, {
        mysqlAccounts: true,
        passwordRequireCurrent: true,
      });
      try {
        const id = `${ARN}-mysql`;
        const user = db.users.writer.user;
        const password = writerPassword;
        // As the migration creates it on MySQL (lambda/lib/password-clause.ts).
        const admin = await adminConnect({ ...db.server, port: mysql.port });
        await admin.query(`ALTER USER ?@'%' IDENTIFIED WITH caching_sha2_password BY ?`, [
          user,
          password,
        ]);
        await admin.end();
        expect(mysql.accountPlugins.get(user)).toBe('caching_sha2_password');

        secrets.addRotatingSecret(id, db.secret('writer', { port: mysql.port, password }));
        await rotate(id);

        expect(mysql.accountPlugins.get(user)).toBe('caching_sha2_password');
        const rotated = secrets.valueAt(id, 'AWSCURRENT')!.password as string;
        expect(await canLogIn(rotated)).toBe(true);
        writerPassword = rotated;
        expect(mysql.logins.every((l) => l.secure)).toBe(true);
      } finally {
        await mysql.stop();
      }
    }
  );
});

/** Whether the database lets the writer user in with `password` (TLS, as the functions connect). */
async function canLogIn(password: string): Promise<boolean> {
  try {
    const connection = await createConnection({
      host: db.server.host,
      port: db.server.port,
      user: db.users.writer.user,
      password,
      ssl: db.server.caFile ? { ca: readFileSync(db.server.caFile, 'utf8') } : undefined,
    });
    await connection.end();
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ER_ACCESS_DENIED_ERROR') return false;
    throw error;
  }
}

describe('what the deploy and Secrets Manager do around a rotation', () => {
  const client = () =>
    new SecretsManagerClient({
      endpoint: secrets.env().AWS_ENDPOINT_URL_SECRETS_MANAGER,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });

  beforeAll(() => {
    secrets.rotationFunction = (event) => rotator.invoke(event, { remainingMs: 30_000 });
  });

  test('RotateSecret is refused while AWSPENDING sits on another version than AWSCURRENT, as the API documents', async () => {
    secrets.addRotatingSecret(ARN, db.secret('writer', { password: writerPassword }));
    const stuck = randomUUID();
    secrets.startRotation(ARN, stuck); // a rotation that failed and left its label
    await expect(client().send(new RotateSecretCommand({ SecretId: ARN }))).rejects.toMatchObject({
      name: 'InvalidRequestException',
    });
    // What every recovery text says (lambda/lib/rotation-recovery.ts): remove it, rotate again.
    await client().send(
      new UpdateSecretVersionStageCommand({
        SecretId: ARN,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: stuck,
      })
    );
    await client().send(new RotateSecretCommand({ SecretId: ARN }));
    await Promise.all(secrets.rotations);
    writerPassword = secrets.valueAt(ARN, 'AWSCURRENT')!.password as string;
    expect(await canLogIn(writerPassword)).toBe(true);
  });

  test('a schedule created or updated with RotateImmediatelyOnUpdate false only tests the configuration: no password changes, no label is left', async () => {
    secrets.addRotatingSecret(ARN, db.secret('writer', { password: writerPassword }));
    await client().send(new RotateSecretCommand({ SecretId: ARN, RotateImmediately: false }));
    await Promise.all(secrets.rotations);
    expect(secrets.versionsOf(ARN)).toEqual({ 'initial-version': ['AWSCURRENT'] });
    expect(await canLogIn(writerPassword)).toBe(true);
    // A rollback of that deploy (the old function, RotateImmediately false again) meets no
    // AWSPENDING, so it is not refused.
    await expect(
      client().send(new RotateSecretCommand({ SecretId: ARN, RotateImmediately: false }))
    ).resolves.toBeDefined();
    await Promise.all(secrets.rotations);
  });

  test('a step that cannot reach the database ends with a named error before the invocation’s time is up', async () => {
    // A server that accepts connections and never answers: a connection storm's worst case.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const id = `${ARN}-silent`;
      secrets.addRotatingSecret(id, db.secret('writer', { port, password: writerPassword }));
      const token = randomUUID();
      secrets.startRotation(id, token);
      await step('createSecret', token, id);
      const remainingMs = 2500;
      const started = performance.now();
      const failure = await rotator
        .invoke({ SecretId: id, ClientRequestToken: token, Step: 'setSecret' }, { remainingMs })
        .catch((error: Error) => error);
      expect(performance.now() - started).toBeLessThan(remainingMs);
      expect(failure).toMatchObject({
        name: expect.stringMatching(/^Database\w+Error$|^RotationError$/),
      });
    } finally {
      silent.close();
    }
  });
});
