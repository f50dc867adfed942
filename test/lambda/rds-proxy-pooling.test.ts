import { readFileSync } from 'node:fs';
import { Connection, RowDataPacket, createConnection } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { pollUntil } from '../support/poll';
import { BORROW_TIMEOUT_ERROR, PoolOptions } from '../support/rds-proxy';
import {
  BehindProxy,
  BehindProxyOptions,
  startBehindProxy,
} from '../support/rds-proxy/behind-proxy';
import { readState } from '../support/state';

const describeWithServer = readState().server.dir ? describe : describe.skip;

/** max_connections 10: MaxConnectionsPercent 20 is a pool of 2, MaxIdleConnectionsPercent 10 keeps 1. */
const SMALL_POOL: PoolOptions = {
  maxConnections: 10,
  maxConnectionsPercent: 20,
  maxIdleConnectionsPercent: 10,
  connectionBorrowTimeoutMs: 60_000,
};

describeWithServer('the pooling RDS Proxy stand-in', () => {
  let db: AppDatabase;
  let proxied: BehindProxy | undefined;
  const clients: Connection[] = [];
  let tls: { ca: string } | undefined;

  beforeAll(async () => {
    db = await AppDatabase.create('rdspool');
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => c.destroy())));
    await proxied?.stop();
    proxied = undefined;
  });

  afterAll(async () => {
    await db?.dispose();
  });

  async function start(options: BehindProxyOptions) {
    proxied = await startBehindProxy(db, options);
    tls = { ca: readFileSync(proxied.proxy.caFile, 'utf8') };
    return proxied;
  }

  async function client(): Promise<Connection> {
    const c = await createConnection({
      host: proxied!.proxy.host,
      port: proxied!.proxy.port,
      user: db.users.writer.user,
      password: db.users.writer.password,
      database: db.database,
      ssl: tls,
    });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  }

  const threadOf = async (c: Connection) =>
    Number((await c.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id'))[0][0].id);

  test('many client sessions share few database connections, one per statement outside a transaction', async () => {
    await start({ pool: SMALL_POOL });
    const sessions = await Promise.all(Array.from({ length: 6 }, () => client()));
    // WHEN each session runs statements, one after the other
    const threads = new Set<number>();
    for (const s of sessions) threads.add(await threadOf(s));
    // THEN one database connection served them all, given back after each statement
    expect(threads.size).toBe(1);
    expect(proxied!.proxy.counters()).toMatchObject({
      clientConnections: 6,
      databaseConnections: 1,
      pool: { borrowed: 0, idle: 1, pinned: 0, waiting: 0 },
    });
  });

  test('a transaction keeps its connection until COMMIT; others use another meanwhile', async () => {
    await start({ pool: SMALL_POOL });
    const [a, b] = [await client(), await client()];
    await a.query('START TRANSACTION');
    const inside = await threadOf(a);
    // The open transaction holds its connection: b gets the pool's second one.
    expect(await threadOf(b)).not.toBe(inside);
    expect(await threadOf(a)).toBe(inside);
    expect(proxied!.proxy.counters().pool).toMatchObject({ borrowed: 1, open: 2 });
    await a.query('COMMIT');
    expect(proxied!.proxy.counters().pool).toMatchObject({ borrowed: 0, idle: 1, open: 1 });
  });

  test('a pool capped at MaxConnectionsPercent answers 9501 after ConnectionBorrowTimeout', async () => {
    await start({
      pool: { ...SMALL_POOL, maxConnectionsPercent: 10, connectionBorrowTimeoutMs: 300 },
    });
    const [a, b] = [await client(), await client()];
    await a.query('START TRANSACTION');
    await a.query('SELECT 1');
    // WHEN another session's statement needs a connection and none frees up
    const waiting = b.query('SELECT 1');
    await pollUntil(
      async () => proxied!.proxy.counters().pool!.waiting,
      (w) => w === 1
    );
    // THEN it waits, then gets the proxy's 9501
    await expect(waiting).rejects.toMatchObject({
      errno: BORROW_TIMEOUT_ERROR.code,
      message: BORROW_TIMEOUT_ERROR.message,
    });
    expect(proxied!.proxy.counters()).toMatchObject({ borrowTimeouts: 1, pool: { waiting: 0 } });
  });

  test('a statement waiting for a connection gets the one a transaction gives back', async () => {
    await start({ pool: { ...SMALL_POOL, maxConnectionsPercent: 10 } });
    const [a, b] = [await client(), await client()];
    await a.query('START TRANSACTION');
    await a.query('SELECT 1');
    const next = b.query<RowDataPacket[]>('SELECT 2 AS two');
    await pollUntil(
      async () => proxied!.proxy.counters().pool!.waiting,
      (w) => w === 1
    );
    await a.query('COMMIT');
    await expect(next).resolves.toMatchObject([[{ two: 2 }], expect.anything()]);
    expect(proxied!.proxy.counters().pool).toMatchObject({ open: 1, peak: 1, waiting: 0 });
  });

  test.each([
    ['SET @pinned = 1'],
    ['SET SESSION sql_mode = DEFAULT'],
    ["PREPARE pinned FROM 'SELECT 1'"],
    ['SELECT GET_LOCK("pinned", 0)'],
  ])('%s pins the session to its connection until the client leaves', async (sql) => {
    await start({ pool: SMALL_POOL });
    const [a, b] = [await client(), await client()];
    await a.query(sql);
    const pinned = await threadOf(a);
    expect(await threadOf(b)).not.toBe(pinned);
    expect(await threadOf(a)).toBe(pinned);
    expect(proxied!.proxy.counters()).toMatchObject({ pins: 1, pool: { pinned: 1, borrowed: 1 } });
    await a.end();
    const after = await pollUntil(
      async () => proxied!.proxy.counters().pool!,
      (p) => p.pinned === 0
    );
    expect(after).toMatchObject({ pinned: 0, borrowed: 0 });
    // The pinned connection was closed, not given to anyone else
    const sessions = await db.waitForSessions((all) => !all.some((x) => Number(x.id) === pinned));
    expect(sessions.map((x) => Number(x.id))).not.toContain(pinned);
  });

  test('a binary-protocol prepared statement and a statement over 16 KB pin too', async () => {
    await start({ pool: SMALL_POOL });
    const [a, b] = [await client(), await client()];
    await a.execute('SELECT ? AS one', [1]);
    await b.query(`SELECT 1 /* ${'x'.repeat(16 * 1024)} */`);
    expect(proxied!.proxy.counters()).toMatchObject({ pins: 2, pool: { pinned: 2 } });
  });

  test('at most MaxIdleConnectionsPercent of max_connections stay open idle', async () => {
    await start({ pool: { ...SMALL_POOL, maxConnectionsPercent: 30 } });
    const sessions = [await client(), await client(), await client()];
    await Promise.all(sessions.map((s) => s.query('START TRANSACTION')));
    await Promise.all(sessions.map((s) => s.query('SELECT 1')));
    expect(proxied!.proxy.counters().pool).toMatchObject({ open: 3, borrowed: 3 });
    await Promise.all(sessions.map((s) => s.query('COMMIT')));
    expect(proxied!.proxy.counters().pool).toMatchObject({ open: 1, idle: 1, borrowed: 0 });
  });

  test("the proxy's own 1040 when a client connection is over its limits", async () => {
    await start({ pool: SMALL_POOL, clientLimits: { maxClientConnections: 1 } });
    await client();
    await expect(client()).rejects.toMatchObject({
      errno: 1040,
      message: 'Number simultaneous connections exceeded (1)',
    });
    await proxied!.stop();
    await start({ pool: SMALL_POOL, clientLimits: { maxConnectionsPerSecond: 1 } });
    await client();
    await expect(client()).rejects.toMatchObject({
      errno: 1040,
      message: 'Connections rate limit exceeded (1)',
    });
  });
});
