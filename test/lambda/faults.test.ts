import { readFileSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { pollUntil } from '../support/poll';
import { freePort } from '../support/ports';
import { Connection, RowDataPacket } from 'mysql2/promise';
import { MAX_CONNECT_ATTEMPTS } from '../../lambda/lib/database';
import { listUsers } from '../../lambda/lib/users-repository';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { ROUTES, Route, startRoute } from '../support/rds-proxy/routes';
import {
  adminConnect,
  startPrivateServer,
  stopPrivateServer,
  ServerInfo,
} from '../support/private-server';

/** A short invocation budget keeps fault tests fast: the handler caps its timeouts to it. */
const SHORT = { remainingMs: 1500 };

describe('database faults give a named error, leak nothing, and the environment recovers', () => {
  let db: AppDatabase;

  beforeAll(async () => {
    db = await AppDatabase.create('faults');
  });

  afterAll(async () => {
    await db?.dispose();
  });

  test('a refused port is DatabaseUnreachableError', async () => {
    const closedPort = await freePort();
    const env = await LambdaEnvironment.start('reader', db.env('reader', { port: closedPort }));
    try {
      await expect(env.invoke({}, SHORT)).rejects.toMatchObject({
        name: 'DatabaseUnreachableError',
        message: expect.stringMatching(/ECONNREFUSED.*security group/),
      });
    } finally {
      await env.stop();
    }
  });

  test('a server that accepts and never answers is DatabaseUnresponsiveError, socket closed', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const env = await LambdaEnvironment.start(
      'reader',
      db.env('reader', { port: (silent.address() as { port: number }).port })
    );
    try {
      await expect(env.invoke({}, SHORT)).rejects.toMatchObject({
        name: 'DatabaseUnresponsiveError',
        message: expect.stringContaining('did not complete the handshake'),
      });
      await waitFor(async () => sockets.size === 0); // the function hung up; nothing leaked
    } finally {
      await env.stop();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('a statement the server does not answer within the client timeout is DatabaseUnresponsiveError', async () => {
    // The server bounds end lock waits before the client's timeout; only a stalled server (here:
    // a statement slower than a client timeout set below it) lets the client's timeout fire.
    const database = db.inProcess('reader', { statementTimeoutMs: 300 });
    await expect(database.run((c) => c.query('SELECT SLEEP(1)', []))).rejects.toMatchObject({
      name: 'DatabaseUnresponsiveError',
      message: expect.stringContaining('did not answer the statement within 300 ms'),
    });
  });

  test('a database the user cannot use is ConfigurationError naming dbname and its value', async () => {
    // 1044 (no grant, or MySQL's answer for a missing database too) or 1049, at login.
    const env = db.env('writer');
    env.DATABASE_URL = env.DATABASE_URL.replace(`/${db.database}`, '/no_such_schema');
    const writer = await LambdaEnvironment.start('writer', env);
    try {
      await expect(
        writer.invoke({ email: 'lost@example.com', name: 'Lost' }, SHORT)
      ).rejects.toMatchObject({
        name: 'ConfigurationError',
        message: expect.stringMatching(/database "no_such_schema".*dbname/),
      });
    } finally {
      await writer.stop();
    }
    expect(await db.waitForNoSessions()).toEqual([]);
  });

  // Directly and through the pooling RDS Proxy stand-in (what prod runs): the same named errors,
  // and nothing left running or in a transaction (the proxy's idle connections excepted).
  describe.each(ROUTES)('with a row locked by another client (%s)', (routeName) => {
    const email = 'locked@example.com';
    let route: Route;
    let locker: Connection;
    let writer: LambdaEnvironment;

    beforeAll(async () => {
      route = await startRoute(routeName, db);
    });

    afterAll(async () => {
      await route?.stop();
    });

    beforeEach(async () => {
      await db.admin.query("INSERT IGNORE INTO users (email, name) VALUES (?, 'Locked')", [email]);
      locker = await adminConnect(db.server, db.database);
      await locker.query('START TRANSACTION');
      await locker.query('SELECT * FROM users WHERE email = ? FOR UPDATE', [email]);
      writer = await LambdaEnvironment.start('writer', route.env('writer'));
    });

    afterEach(async () => {
      await locker.query('ROLLBACK');
      await locker.end();
      await writer.stop();
      // Once the lock is gone, even the statement the function gave up on ends: no session left.
      expect(await route.settled()).toEqual([]);
    });

    test('a write stuck on the row lock ends on the server first: DatabaseLockConflictError', async () => {
      await expect(writer.invoke({ email, name: 'Waits' })).rejects.toMatchObject({
        name: 'DatabaseLockConflictError',
        message: expect.stringContaining('nothing was written'),
      });
    });

    test('a connection killed mid-statement is DatabaseConnectionLostError; the next invocation works', async () => {
      const invocation = writer.invoke({ email, name: 'Killed' });
      const [running] = await db.waitForSessions((s) => s.some((x) => x.command === 'Query'));
      await db.admin.query(`KILL ${Number(running.id)}`);
      await expect(invocation).rejects.toMatchObject({
        name: 'DatabaseConnectionLostError',
        message: expect.stringContaining('retrying the same event is safe'),
      });
      await locker.query('ROLLBACK');
      expect(await route.settled()).toEqual([]);

      // Same environment, same module scope: nothing broken is cached.
      const { user } = await writer.invoke<{ user: { name: string } }>({
        email,
        name: 'Recovered',
      });
      expect(user.name).toBe('Recovered');
      const [rows] = await db.admin.query<RowDataPacket[]>(
        'SELECT name FROM users WHERE email = ?',
        [email]
      );
      expect(rows[0].name).toBe('Recovered');
    });
  });
});

describe('too many connections', () => {
  let server: ServerInfo;
  let db: AppDatabase;
  let hogs: Connection[];

  beforeAll(async () => {
    // A server of its own: filling max_connections must not disturb other test files.
    server = await startPrivateServer({ maxConnections: 4 });
    db = await AppDatabase.create('busy', server);
  });

  afterAll(async () => {
    await db?.dispose();
    await stopPrivateServer(server);
  });

  beforeEach(async () => {
    // The previous test's sessions first: the server ends a closed connection's session
    // asynchronously, and one ending after the filling below would leave a slot free.
    expect(await db.waitForNoSessions()).toEqual([]);
    // Fill every ordinary slot as a non-admin user (the admin has one reserved slot on top).
    hogs = [];
    for (;;) {
      try {
        hogs.push(await connectAs(server, db, 'reader'));
      } catch (error) {
        if ((error as { code?: string }).code === 'ER_CON_COUNT_ERROR') break;
        throw error;
      }
    }
  });

  afterEach(async () => {
    await Promise.all(hogs.map((hog) => hog.end()));
  });

  test('the connection is retried with backoff and succeeds once a slot frees up', async () => {
    // In-process, to hear about each retry: the first one frees a slot.
    const retries: number[] = [];
    const retriesReported: number[] = [];
    const database = db.inProcess('reader', {
      onRetry: (attempt) => {
        retries.push(attempt);
        void hogs.pop()?.end();
      },
      onMetrics: (metrics) => retriesReported.push(metrics.connectionRetries),
    });
    const page = await database.run((connection) =>
      listUsers(connection, { limit: 5, after: null })
    );
    expect(page).toEqual({ users: [], next: null }); // nothing handed out yet
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retriesReported).toEqual([retries.length]); // the ConnectionRetries metric
  });

  test('an invocation makes at most MAX_CONNECT_ATTEMPTS attempts, however long it has', async () => {
    const reader = await LambdaEnvironment.start('reader', db.env('reader'));
    try {
      const before = await connectionAttempts(db);
      await expect(reader.invoke({}, { remainingMs: 10_000 })).rejects.toMatchObject({
        name: 'TooManyConnectionsError',
      });
      expect((await connectionAttempts(db)) - before).toBe(MAX_CONNECT_ATTEMPTS);
    } finally {
      await reader.stop();
    }
  });

  test('what refused attempts cost the server: at login (full handshake) and at accept', async () => {
    // Sequential attempts each take the one slot above max_connections, so each is refused
    // after TCP, TLS and login, as on MySQL 8.4 for a user without CONNECTION_ADMIN.
    const attempts = 40;
    let made = 0;
    const sequential = db.inProcess('reader', {
      onRetry: () => made++,
      maxConnectAttempts: attempts,
      random: () => 0,
      defaultBudgetMs: 60_000,
    });
    let refusedBefore = await connectionAttempts(db);
    let cpuBefore = serverCpuMs(server);
    await expect(sequential.run(() => Promise.resolve())).rejects.toMatchObject({
      name: 'TooManyConnectionsError',
    });
    const atLoginCpuMs = serverCpuMs(server) - cpuBefore;
    // Each got a session (the server's Connections counter) before it was refused.
    expect((await connectionAttempts(db)) - refusedBefore).toBe(attempts);
    expect(made).toBe(attempts - 1);

    // With the extra slot held (here by the admin), every other attempt is refused right after
    // accept, before the greeting: what most of a burst of environments gets.
    const extra = await adminConnect(server);
    try {
      refusedBefore = await connectionAttempts(db);
      cpuBefore = serverCpuMs(server);
      made = 0;
      await expect(sequential.run(() => Promise.resolve())).rejects.toMatchObject({
        name: 'TooManyConnectionsError',
      });
      // None got a session: refused at accept, before the greeting.
      expect((await connectionAttempts(db)) - refusedBefore).toBe(0);
      expect(made).toBe(attempts - 1);
    } finally {
      await extra.end();
    }
    const atAcceptCpuMs = serverCpuMs(server) - cpuBefore;
    // Measured, not asserted (the machine's speed is not the code's fault); figures for the docs.
    console.log(
      `server CPU per refused attempt: at login ${(atLoginCpuMs / attempts).toFixed(2)} ms, ` +
        `at accept ${(atAcceptCpuMs / attempts).toFixed(2)} ms (${attempts} attempts each, ` +
        `${1000 / CLOCK_TICKS_PER_SECOND} ms clock ticks); at most ${MAX_CONNECT_ATTEMPTS} attempts per invocation`
    );
  });

  test('when no slot frees up in time it is TooManyConnectionsError', async () => {
    const reader = await LambdaEnvironment.start('reader', db.env('reader'));
    try {
      await expect(reader.invoke({}, SHORT)).rejects.toMatchObject({
        name: 'TooManyConnectionsError',
        message: expect.stringContaining('reserved concurrency'),
      });
    } finally {
      await reader.stop();
    }
  });
});

/** Connection attempts the server has seen (`Connections`: accepted or refused, at accept or login). */
async function connectionAttempts(db: AppDatabase): Promise<number> {
  const [[row]] = await db.admin.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Connections'");
  return Number(row.Value);
}

/** CPU time (user + system) the server process has used, in ms, from /proc/<pid>/stat. */
function serverCpuMs(server: ServerInfo): number {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

const CLOCK_TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

async function connectAs(
  server: ServerInfo,
  db: AppDatabase,
  role: 'reader' | 'writer'
): Promise<Connection> {
  const { createConnection } = await import('mysql2/promise');
  const { readFileSync } = await import('node:fs');
  return createConnection({
    host: server.host,
    port: server.port,
    user: db.users[role].user,
    password: db.users[role].password,
    ssl: { ca: readFileSync(server.caFile!, 'utf8') },
  });
}

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  if (!(await pollUntil(condition, (reached) => reached))) {
    throw new Error('condition not reached');
  }
}
