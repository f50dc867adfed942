import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { StaticCredentials } from '../../lambda/lib/credentials';
import { Database } from '../../lambda/lib/database';
import { canLogIn, readUserSecretState } from '../../lambda/lib/user-secret';
import { listUsers } from '../../lambda/lib/users-repository';
import { handleMigrationEvent } from '../../lambda/migration-resource';
import { AppDatabase } from '../support/app-database';
import { CachingSha2Front, LoginRecord } from '../support/caching-sha2-front';
import { LambdaEnvironment } from '../support/lambda-environment';
import { adminConnect } from '../support/private-server';
import { SecretsEndpoint } from '../support/secrets-endpoint';
import { readState } from '../support/state';
import { declaredMigrationUsers, eventUsers } from '../support/migration-users';
import { PREPARATION_BUDGET_ENV } from '../../lambda/lib/init-preparation';
import { HANG_MS } from '../support/poll';

// MySQL 8.4 creates accounts with caching_sha2_password and greets with it; MariaDB has no such
// plugin. CachingSha2Front stands where MySQL's login would be (see its comment) and relays the
// session to the run's MariaDB, so the shipped handlers log in the way they do in production.

// A server of your own (MYSQL_URL) has no certificate key here to front it with.
const it = readState().server.dir ? test : test.skip;

describe('logging in to MySQL 8.4 with caching_sha2_password', () => {
  let db: AppDatabase;
  let front: CachingSha2Front;
  let secrets: SecretsEndpoint;
  let writer: LambdaEnvironment;
  /** The logins of the writer's init phase (its data-path preparation). */
  let initLogins: { path: string; ok: boolean; secure: boolean }[] = [];
  let n = 0;

  beforeAll(async () => {
    db = await AppDatabase.create('sha2');
    if (!db.server.dir) return;
    front = await CachingSha2Front.start(db.server);
    secrets = await SecretsEndpoint.start();
    secrets.set('AWSCURRENT', db.secret('writer', { port: front.port }));
    writer = await LambdaEnvironment.start('writer', {
      ...secrets.env(),
      DB_TLS_CA_FILE: db.server.caFile!,
      // Its init's login is asserted below: no 1 s budget on a busy machine.
      [PREPARATION_BUDGET_ENV]: String(HANG_MS),
    });
    initLogins = writerLogins();
  });

  afterAll(async () => {
    await writer?.stop();
    await secrets?.stop();
    await front?.stop();
    await db?.dispose();
  });

  beforeEach(() => {
    if (front) front.logins.length = 0;
    if (secrets) secrets.reads.length = 0;
  });

  const write = () =>
    writer.invoke<{ user: { name: string } }>({ email: 'sha2@example.com', name: `v${++n}` });
  const loginsOf = (user: string) =>
    front.logins
      .filter((l) => l.user === user)
      .map(({ path, ok, secure }) => ({ path, ok, secure }));
  const writerLogins = () => loginsOf(db.users.writer.user);
  const login = (path: LoginRecord['path'], ok = true) => ({ path, ok, secure: true });

  /** A password change as rotation makes it: ALTER USER, sent to "MySQL" (the front). */
  async function setPassword(password: string) {
    const admin = await adminConnect({ ...db.server, port: front.port });
    try {
      await admin.query("ALTER USER ?@'%' IDENTIFIED BY ?", [db.users.writer.user, password]);
    } finally {
      await admin.end();
    }
  }
  const secretWith = (password: string) => db.secret('writer', { port: front.port, password });

  it("the first login (the init's preparation) is a full authentication over TLS, the next ones fast", async () => {
    expect(initLogins).toEqual([login('full')]);
    await expect(write()).resolves.toMatchObject({ user: { name: `v${n}` } });
    expect(writerLogins()).toEqual([login('fast')]);
    await write();
    expect(writerLogins()).toEqual([login('fast'), login('fast')]);
    expect(front.cachedUsers()).toContain(db.users.writer.user);
  });

  it('after a rotation the cached password is denied, AWSCURRENT is read again and logs in by full authentication', async () => {
    await setPassword('rotated-1');
    expect(front.cachedUsers()).not.toContain(db.users.writer.user); // ALTER USER evicted it
    secrets.set('AWSCURRENT', secretWith('rotated-1'));
    await expect(write()).resolves.toMatchObject({ user: { name: `v${n}` } });
    expect(writerLogins()).toEqual([login('full', false), login('full')]);
    expect(secrets.reads).toEqual(['AWSCURRENT']);
    await write();
    expect(writerLogins()).toEqual([login('full', false), login('full'), login('fast')]);
  });

  it('mid-rotation, when only AWSPENDING matches, it logs in with it by full authentication', async () => {
    await setPassword('rotated-2'); // AWSCURRENT still says rotated-1
    secrets.set('AWSPENDING', secretWith('rotated-2'));
    try {
      await expect(write()).resolves.toBeDefined();
      // AWSPREVIOUS (what a proxy may still hold) has no version here
      expect(secrets.reads).toEqual(['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING']);
      // cached (rotated-1) denied; AWSCURRENT is the same and not tried again; AWSPENDING works
      expect(writerLogins()).toEqual([login('full', false), login('full')]);
    } finally {
      secrets.set('AWSCURRENT', secretWith('rotated-2'));
      secrets.stages.delete('AWSPENDING');
    }
  });

  it('a password no version matches is DatabaseAccessDeniedError, and nothing is cached for it', async () => {
    await setPassword('nobody-knows');
    await expect(write()).rejects.toMatchObject({ name: 'DatabaseAccessDeniedError' });
    expect(writerLogins().every((l) => l.path === 'full' && !l.ok)).toBe(true);
    expect(front.cachedUsers()).not.toContain(db.users.writer.user);
    await setPassword('rotated-2');
  });

  it('behind RDS Proxy (DB_PROXY_HOST), the proxy-facing login is the same: full (at init), then fast', async () => {
    const viaProxy = await SecretsEndpoint.start();
    // The secret names the instance; DB_PROXY_HOST (here the front) replaces its host.
    viaProxy.set('AWSCURRENT', {
      ...db.secret('reader', { port: front.port }),
      host: 'db.invalid',
    });
    const reader = await LambdaEnvironment.start('reader', {
      ...viaProxy.env(),
      DB_PROXY_HOST: '127.0.0.1',
      DB_TLS_CA_FILE: db.server.caFile!,
      [PREPARATION_BUDGET_ENV]: String(HANG_MS),
    });
    try {
      expect(loginsOf(db.users.reader.user)).toEqual([login('full')]); // the init's preparation
      await expect(reader.invoke({ limit: 1 })).resolves.toMatchObject({ servedBy: 'primary' });
      expect(loginsOf(db.users.reader.user)).toEqual([login('full'), login('fast')]);
    } finally {
      await reader.stop();
      await viaProxy.stop();
    }
  });

  describe('the password never crosses the wire in cleartext without TLS', () => {
    let plain: CachingSha2Front;
    beforeAll(async () => {
      if (db.server.dir) plain = await CachingSha2Front.start(db.server, { tls: false });
    });
    afterAll(() => plain?.stop());

    const database = (tls: boolean) =>
      new Database({
        credentials: new StaticCredentials({
          host: '127.0.0.1',
          port: plain.port,
          user: db.users.reader.user,
          password: db.users.reader.password,
          database: db.database,
        }),
        tls: tls ? db.clientTls() : undefined,
      });
    const sentPassword = () =>
      plain.wireBytes.some((bytes) => bytes.includes(Buffer.from(db.users.reader.password)));

    it('with TLS configured (every deployed function), a server without TLS gets no login at all', async () => {
      await expect(
        database(true).run((c) => listUsers(c, { limit: 1, after: null }))
      ).rejects.toMatchObject({ name: 'DatabaseTlsError' });
      expect(plain.logins).toEqual([]);
      expect(sentPassword()).toBe(false);
    });

    it('without TLS (DATABASE_URL without ?tls=true), full authentication is RSA-encrypted', async () => {
      const local = database(false);
      await local.run((c) => listUsers(c, { limit: 1, after: null }));
      await local.run((c) => listUsers(c, { limit: 1, after: null }));
      expect(plain.logins).toEqual([
        { user: db.users.reader.user, path: 'full-rsa', ok: true, secure: false },
        { user: db.users.reader.user, path: 'fast', ok: true, secure: false },
      ]);
      expect(sentPassword()).toBe(false);
    });
  });

  describe('the migration creates the function users with the plugin named', () => {
    let mysql: CachingSha2Front;
    beforeAll(async () => {
      if (db.server.dir) mysql = await CachingSha2Front.start(db.server, { mysqlAccounts: true });
    });
    afterAll(() => mysql?.stop());

    it('on MySQL 8.4: IDENTIFIED WITH caching_sha2_password, and the users log in with it', async () => {
      const suffix = Math.random().toString(16).slice(2, 8);
      const users = { writer: `mwriter_${suffix}`, reader: `mreader_${suffix}` };
      const endpoint = await SecretsEndpoint.start();
      for (const role of ['writer', 'reader'] as const) {
        endpoint.addSecret(`arn:${role}`, {
          ...db.secret(role, { port: mysql.port, password: `pw-${role}-${suffix}` }),
          username: users[role],
        });
      }
      const client = new SecretsManagerClient({
        endpoint: endpoint.env().AWS_ENDPOINT_URL_SECRETS_MANAGER,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      const tls = db.clientTls();
      const admin = new Database({
        credentials: new StaticCredentials({
          host: '127.0.0.1',
          port: mysql.port,
          user: db.server.adminUser,
          password: db.server.adminPassword,
          database: db.database,
        }),
        tls,
      });
      const migrationUsers = declaredMigrationUsers((role) => `arn:${role}`);
      const event = {
        RequestType: 'Create',
        ResourceProperties: {
          ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
          SchemaVersion: 'v1',
          Users: eventUsers(migrationUsers),
        },
      } as unknown as CloudFormationCustomResourceEvent;
      try {
        await handleMigrationEvent(
          event,
          {
            admin,
            users: migrationUsers,
            readUserSecret: (arn) => readUserSecretState(client, arn),
            canLogIn: (credentials) => canLogIn(credentials, tls),
            log: () => undefined,
          },
          // A custom resource's time (the provider allows minutes), not the default invocation's:
          // on a busy machine the default left less than one statement's time after the logins.
          { getRemainingTimeInMillis: () => 5 * 60_000 }
        );
        expect(mysql.accountPlugins.get(users.writer)).toBe('caching_sha2_password');
        expect(mysql.accountPlugins.get(users.reader)).toBe('caching_sha2_password');
        // The migration's own check that each user opens the database: a full authentication.
        expect(mysql.logins.filter((l) => l.user === users.writer)).toEqual([
          { user: users.writer, path: 'full', ok: true, secure: true },
        ]);
      } finally {
        await endpoint.stop();
        for (const user of Object.values(users)) {
          await db.admin.query('DROP USER IF EXISTS ?@?', [user, '%']);
        }
      }
    });
  });
});
