import { createServer, Server, Socket } from 'node:net';
import { freePort } from '../support/ports';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { SecretsEndpoint } from '../support/secrets-endpoint';

/**
 * Functions configured with DB_SECRET_ARN read the RDS-format secret through the real Secrets
 * Manager SDK client, pointed at a local endpoint (AWS_ENDPOINT_URL_SECRETS_MANAGER).
 */
describe('credentials from Secrets Manager', () => {
  let db: AppDatabase;
  let secrets: SecretsEndpoint;
  let writer: LambdaEnvironment;
  let n = 0;
  const write = () =>
    writer.invoke<{ user: { name: string } }>({ email: 'rotate@example.com', name: `v${++n}` });
  const secretFor = (password: string) => db.secret('writer', { password });
  const setServerPassword = (password: string) =>
    db.admin.query('ALTER USER ?@? IDENTIFIED BY ?', [db.users.writer.user, '%', password]);

  beforeAll(async () => {
    db = await AppDatabase.create('creds');
    secrets = await SecretsEndpoint.start();
    secrets.set('AWSCURRENT', secretFor(db.users.writer.password));
    writer = await LambdaEnvironment.start('writer', {
      ...secrets.env(),
      ...(db.server.caFile ? { DB_TLS_CA_FILE: db.server.caFile } : {}),
    });
  });

  afterAll(async () => {
    await writer?.stop();
    await secrets?.stop();
    await db?.dispose();
  });

  beforeEach(() => {
    secrets.reads.length = 0;
  });

  test('the secret is read once and then cached', async () => {
    await write();
    await write();
    expect(secrets.reads.length).toBeLessThanOrEqual(1);
  });

  test('a rotation between invocations fails no invocation', async () => {
    await setServerPassword('rotated-1');
    secrets.set('AWSCURRENT', secretFor('rotated-1'));
    await expect(write()).resolves.toMatchObject({ user: { name: `v${n}` } });
    expect(secrets.reads).toEqual(['AWSCURRENT']); // re-read once after the denial
    await write();
    expect(secrets.reads).toEqual(['AWSCURRENT']); // and cached again
  });

  test('mid-rotation, when only AWSPENDING matches the database, it is used', async () => {
    await setServerPassword('rotated-2');
    secrets.set('AWSPENDING', secretFor('rotated-2')); // AWSCURRENT still says rotated-1
    await expect(write()).resolves.toBeDefined();
    // AWSPREVIOUS (a proxy may still hold it) has no version here.
    expect(secrets.reads).toEqual(['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING']);
    secrets.set('AWSCURRENT', secretFor('rotated-2')); // rotation finishes
    secrets.stages.delete('AWSPENDING');
    await expect(write()).resolves.toBeDefined();
  });

  test('a password that no version matches is DatabaseAccessDeniedError, and a denial storm reads the secret once', async () => {
    await setServerPassword('nobody-knows');
    await expect(write()).rejects.toMatchObject({
      name: 'DatabaseAccessDeniedError',
      message: expect.stringContaining('AWSPENDING'),
    });
    const oneRound = [...secrets.reads];
    expect(oneRound.length).toBeLessThanOrEqual(3);
    for (let i = 0; i < 5; i++) {
      await expect(write()).rejects.toMatchObject({ name: 'DatabaseAccessDeniedError' });
    }
    // The versions read in that round are tried again, not read again (deniedRereadIntervalMs).
    expect(secrets.reads).toEqual(oneRound);
    await setServerPassword('rotated-2');
    await expect(write()).resolves.toBeDefined(); // the same environment recovers
    expect(await db.waitForNoSessions()).toEqual([]);
  });

  describe('the init phase reads the secret (prepareForFirstInvocation)', () => {
    const env = () => ({
      ...secrets.env(),
      ...(db.server.caFile ? { DB_TLS_CA_FILE: db.server.caFile } : {}),
    });

    test('an environment reads its secret during init, so its first invocation reads nothing', async () => {
      await setServerPassword('init-phase');
      secrets.set('AWSCURRENT', secretFor('init-phase'));
      const fresh = await LambdaEnvironment.start('writer', env());
      try {
        expect(secrets.reads).toEqual(['AWSCURRENT']); // before any invocation
        await fresh.invoke({ email: 'init@example.com', name: 'I' });
        expect(secrets.reads).toEqual(['AWSCURRENT']);
      } finally {
        await fresh.stop();
      }
    });

    test('a failed read fails neither the init nor, once the secret is there, the first invocation', async () => {
      await setServerPassword('init-phase-2');
      secrets.stages.delete('AWSCURRENT'); // the read during init finds no value
      const fresh = await LambdaEnvironment.start('writer', env()); // init completes anyway
      try {
        expect(secrets.reads).toEqual(['AWSCURRENT']);
        secrets.set('AWSCURRENT', secretFor('init-phase-2'));
        await expect(fresh.invoke({ email: 'init@example.com', name: 'J' })).resolves.toMatchObject(
          { user: { name: 'J' } }
        );
        expect(secrets.reads).toEqual(['AWSCURRENT', 'AWSCURRENT']); // read again, then worked
      } finally {
        await fresh.stop();
      }
    });
  });

  // The init's read fails too and is left to the invocation, so each case starts an environment.
  describe('a Secrets Manager outage on a cold start is a clear error, not a hang', () => {
    test('endpoint refusing connections', async () => {
      const port = await freePort(); // nothing listens there
      const env = await LambdaEnvironment.start('writer', {
        ...secrets.env(),
        AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${port}`,
      });
      try {
        await expect(env.invoke({ email: 'x@example.com', name: 'X' })).rejects.toMatchObject({
          name: 'CredentialsUnavailableError',
          message: expect.stringContaining('VPC endpoint'),
        });
      } finally {
        await env.stop();
      }
    });

    test('endpoint accepting connections and never answering', async () => {
      const sockets = new Set<Socket>();
      const blackHole: Server = createServer((socket) => void sockets.add(socket));
      await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
      const env = await LambdaEnvironment.start('writer', {
        ...secrets.env(),
        AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(blackHole.address() as { port: number }).port}`,
      });
      try {
        // The SDK client's own timeouts end this (two attempts of 1.5 s), well inside the
        // 10 s function timeout; jest's test timeout would catch a hang.
        await expect(env.invoke({ email: 'x@example.com', name: 'X' })).rejects.toMatchObject({
          name: 'CredentialsUnavailableError',
        });
      } finally {
        await env.stop();
        sockets.forEach((socket) => socket.destroy());
        await new Promise((resolve) => blackHole.close(resolve));
      }
    });
  });
});
