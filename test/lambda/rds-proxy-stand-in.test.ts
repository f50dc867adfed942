import { readFileSync } from 'node:fs';
import { Connection, createConnection } from 'mysql2/promise';
import type { AppRole } from '../../lib/declared-functions';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import {
  BehindProxy,
  BehindProxyOptions,
  startBehindProxy,
} from '../support/rds-proxy/behind-proxy';
import { pollUntil } from '../support/poll';
import { readState } from '../support/state';

// The stand-in needs the private server's certificate key to log in over TLS as the proxy does.
const describeWithServer = readState().server.dir ? describe : describe.skip;

const MINUTE = 60_000;

describeWithServer('the RDS Proxy stand-in (test/support/rds-proxy)', () => {
  let db: AppDatabase;
  const started: BehindProxy[] = [];
  // One TLS settings object per CA, as the functions keep one per environment.
  const tls = new Map<string, { ca: string }>();

  beforeAll(async () => {
    db = await AppDatabase.create('rdsproxy');
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((p) => p.stop()));
  });

  afterAll(async () => {
    await db?.dispose();
  });

  async function behindProxy(options: BehindProxyOptions = {}): Promise<BehindProxy> {
    const proxied = await startBehindProxy(db, options);
    started.push(proxied);
    return proxied;
  }

  /** A mysql2 client of the proxy as `role`, verifying its certificate with `caFile`. */
  function connect(
    proxied: BehindProxy,
    role: AppRole,
    {
      password = db.users[role].password,
      caFile = proxied.proxy.caFile,
      ssl = true,
    }: { password?: string; caFile?: string; ssl?: boolean } = {}
  ): Promise<Connection> {
    if (!tls.has(caFile)) tls.set(caFile, { ca: readFileSync(caFile, 'utf8') });
    return createConnection({
      host: proxied.proxy.host,
      port: proxied.proxy.port,
      user: db.users[role].user,
      password,
      database: db.database,
      ssl: ssl ? tls.get(caFile) : undefined,
    });
  }

  async function selectOne(connection: Promise<Connection>): Promise<unknown> {
    const c = await connection;
    try {
      const [rows] = await c.query('SELECT 1 AS one');
      return rows;
    } finally {
      await c.end();
    }
  }

  /** Changes `role`'s password on the database (what a rotation's setSecret does). */
  async function changePassword(role: AppRole, password: string): Promise<void> {
    await db.admin.query('ALTER USER ?@? IDENTIFIED BY ?', [db.users[role].user, '%', password]);
    db.users[role].password = password;
  }

  test('the bundled writer and reader work through it, on the configuration the template gives them', async () => {
    // GIVEN the functions' environment behind a proxy (caching_sha2_password, TLS required)
    const proxied = await behindProxy();
    const writer = await LambdaEnvironment.start('writer', proxied.env('writer'));
    const reader = await LambdaEnvironment.start('reader', proxied.env('reader'));
    try {
      // WHEN they write and read
      const { user } = await writer.invoke<{ user: { id: number; name: string } }>({
        email: 'proxied@example.com',
        name: 'Through the proxy',
      });
      const read = await reader.invoke<{ user: { id: number } }>({ email: 'proxied@example.com' });

      // THEN both went through the proxy, which checked them and logged in with its secrets
      expect(read.user.id).toBe(user.id);
      // Each environment logs in twice: its init's preparation (lambda/lib/init-preparation.ts),
      // when it starts, then its invocation.
      const login = (role: AppRole) => ({
        user: db.users[role].user,
        ok: true,
        plugin: 'caching_sha2_password',
        secure: true,
      });
      expect(proxied.proxy.logins).toEqual([
        login('writer'), // init
        login('reader'), // init
        login('writer'),
        login('reader'),
      ]);
      expect(proxied.proxy.databaseLogins.map((l) => l.ok)).toEqual([true, true, true, true]);
      // 1:1 sessions: the functions' closed connections closed the proxy's database sessions
      await db.waitForNoSessions();
      const counters = await pollUntil(
        async () => proxied.proxy.counters(),
        (c) => c.clientConnections === 0
      );
      expect(counters).toMatchObject({ clientConnections: 0, databaseConnections: 0 });
    } finally {
      await Promise.all([writer.stop(), reader.stop()]);
    }
  });

  test('MYSQL_NATIVE_PASSWORD checks the mysql_native_password scramble', async () => {
    const proxied = await behindProxy({ clientPasswordAuthType: 'MYSQL_NATIVE_PASSWORD' });
    await expect(selectOne(connect(proxied, 'reader'))).resolves.toEqual([{ one: 1 }]);
    await expect(connect(proxied, 'reader', { password: 'wrong' })).rejects.toMatchObject({
      errno: 1045,
    });
    expect(proxied.proxy.logins.map(({ plugin, ok }) => ({ plugin, ok }))).toEqual([
      { plugin: 'mysql_native_password', ok: true },
      { plugin: 'mysql_native_password', ok: false },
    ]);
  });

  test('TLS: 3159 without it; its own certificate, which the database CA does not verify', async () => {
    const proxied = await behindProxy();
    await expect(connect(proxied, 'reader', { ssl: false })).rejects.toMatchObject({
      errno: 3159,
    });
    await expect(connect(proxied, 'reader', { caFile: db.server.caFile })).rejects.toThrow(
      /certificate/i
    );
    expect(proxied.proxy.logins.map((l) => l.error)).toEqual(['no-tls']);
  });

  test('a user that is in no secret of its auth list, or a wrong password: 1045', async () => {
    const proxied = await behindProxy();
    await expect(connect(proxied, 'writer', { password: 'wrong' })).rejects.toMatchObject({
      errno: 1045,
      sqlState: '28000',
    });
    const stranger = createConnection({
      host: proxied.proxy.host,
      port: proxied.proxy.port,
      user: 'stranger',
      password: 'x',
      ssl: { ca: readFileSync(proxied.proxy.caFile, 'utf8') },
    });
    await expect(stranger).rejects.toMatchObject({ errno: 1045 });
    expect(proxied.proxy.logins.map((l) => l.error)).toEqual(['wrong-password', 'unknown-user']);
    expect(proxied.proxy.databaseLogins).toEqual([]); // nothing reached the database
  });

  describe('when it reads a secret again (a parameter: the guide does not say)', () => {
    let clock = 0;
    const now = () => clock;
    beforeEach(() => {
      clock = 1_000_000;
    });

    test('a changed secret is read at once after a failed client login (afterFailedLoginMs: 0)', async () => {
      const proxied = await behindProxy({
        now,
        secretRefresh: { everyMs: 60 * MINUTE, afterFailedLoginMs: 0 },
      });
      await changePassword('writer', 'rotated-at-once-1');
      proxied.secrets.addSecret(proxied.secretArn('writer'), db.secret('writer'));
      const reads = proxied.proxy.secretReads.length;
      await expect(selectOne(connect(proxied, 'writer'))).resolves.toEqual([{ one: 1 }]);
      expect(proxied.proxy.secretReads.slice(reads)).toEqual([proxied.secretArn('writer')]);
    });

    test('a refused database login is followed by an immediate re-read too (afterFailedLoginMs: 0)', async () => {
      // GIVEN the database and the secret have a new password; the client and the proxy the old
      const proxied = await behindProxy({
        now,
        secretRefresh: { everyMs: 60 * MINUTE, afterFailedLoginMs: 0 },
      });
      const old = db.users.writer.password;
      await changePassword('writer', 'rotated-db-login-1');
      proxied.secrets.addSecret(proxied.secretArn('writer'), db.secret('writer'));
      // WHEN the client logs in with the old one: the proxy's cache accepts it, the database not
      await expect(selectOne(connect(proxied, 'writer', { password: old }))).resolves.toEqual([
        { one: 1 },
      ]);
      // THEN the proxy re-read the secret and logged in again with the new password
      expect(proxied.proxy.databaseLogins.map((l) => l.ok)).toEqual([false, true]);
    });

    test('minutes later: refused until the re-read is due, then the new password works', async () => {
      const proxied = await behindProxy({
        now,
        secretRefresh: { everyMs: 60 * MINUTE, afterFailedLoginMs: 5 * MINUTE },
      });
      await changePassword('writer', 'rotated-later-1');
      proxied.secrets.addSecret(proxied.secretArn('writer'), db.secret('writer'));
      await expect(connect(proxied, 'writer')).rejects.toMatchObject({ errno: 1045 });
      clock += 5 * MINUTE - 1;
      await expect(connect(proxied, 'writer')).rejects.toMatchObject({ errno: 1045 });
      clock += 1;
      await expect(selectOne(connect(proxied, 'writer'))).resolves.toEqual([{ one: 1 }]);
    });

    test('periodically (everyMs): a secret older than that is read before it is used', async () => {
      const proxied = await behindProxy({ now, secretRefresh: { everyMs: 30_000 } });
      await changePassword('reader', 'rotated-periodic-1');
      proxied.secrets.addSecret(proxied.secretArn('reader'), db.secret('reader'));
      await expect(connect(proxied, 'reader')).rejects.toMatchObject({ errno: 1045 });
      clock += 30_000;
      await expect(selectOne(connect(proxied, 'reader'))).resolves.toEqual([{ one: 1 }]);
    });
  });

  describe('what a refused database login looks like to the client (a parameter)', () => {
    // The database has a new password the secret does not hold yet (a rotation between its
    // setSecret and finishSecret steps): the client's password matches the proxy's cache, the
    // proxy's own login to the database is refused.
    async function refusedDatabaseLogin(
      databaseLoginFailure: 'access-denied' | 'connection-closed'
    ) {
      const proxied = await behindProxy({ databaseLoginFailure });
      const old = db.users.reader.password;
      await changePassword('reader', `${databaseLoginFailure}-db-only`);
      const attempt = connect(proxied, 'reader', { password: old });
      return { proxied, attempt };
    }

    test("access-denied: the database's 1045 at login", async () => {
      const { proxied, attempt } = await refusedDatabaseLogin('access-denied');
      await expect(attempt).rejects.toMatchObject({ errno: 1045 });
      expect(proxied.proxy.logins.map((l) => l.ok)).toEqual([true]);
      expect(proxied.proxy.databaseLogins).toEqual([
        { user: db.users.reader.user, ok: false, code: 1045 },
      ]);
    });

    test('connection-closed: the connection closes without an answer', async () => {
      const { attempt } = await refusedDatabaseLogin('connection-closed');
      await expect(attempt).rejects.toMatchObject({ code: 'PROTOCOL_CONNECTION_LOST' });
    });
  });
});
