import { createServer, Server, Socket } from 'node:net';
import { ConnectionFailure } from '../../lambda/lib/connection';
import { readDatabaseConfig } from '../../lambda/lib/config';
import { StaticCredentials } from '../../lambda/lib/credentials';
import { Database, rehearsalShares } from '../../lambda/lib/database';
import {
  prepareDataPath,
  PREPARATION_BUDGET_ENV,
  PREPARE_AT_INIT_ENV,
} from '../../lambda/lib/init-preparation';
import { prepareUsersStatement } from '../../lambda/lib/users-repository';
import { USER_COLUMNS } from '../../lambda/lib/users-schema';
import { AppDatabase } from '../support/app-database';
import { InvocationError, LambdaEnvironment } from '../support/lambda-environment';
import { HANG_MS, pollUntil } from '../support/poll';
import { freePort } from '../support/ports';
import { adminConnect } from '../support/private-server';
import { SecretsEndpoint } from '../support/secrets-endpoint';
import { TcpRelay } from '../support/tcp-relay';

/** The preparation's statement (users-repository.ts), run by hand to see the rows it returns. */
const PREPARE_STATEMENT_PROBE = `SELECT ${USER_COLUMNS} FROM users WHERE email = ? AND FALSE`;

/** A short invocation budget keeps the failure cases fast: the handler caps its timeouts to it. */
const SHORT = { remainingMs: 1500 };

/** A TCP server on 127.0.0.1 that does `onConnection` with each socket; closed by stop(). */
async function fakeServer(onConnection: (socket: Socket) => void) {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    get connections() {
      return connections;
    },
    get open() {
      return sockets.size;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * MySQL's answer to a connection beyond max_connections + 1: an ERR packet (1040,
 * ER_CON_COUNT_ERROR) instead of the greeting, then the close (see database.ts, MAX_CONNECT_ATTEMPTS).
 */
function tooManyConnections(socket: Socket): void {
  const message = Buffer.from('Too many connections');
  const payload = Buffer.concat([Buffer.from([0xff, 1040 & 0xff, 1040 >> 8]), message]);
  const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, 0, 0]);
  socket.end(Buffer.concat([header, payload]));
}

/** The first invocation's outcome, as the caller sees it. */
async function outcome(env: LambdaEnvironment, event: unknown) {
  try {
    return { ok: true, value: await env.invoke(event, SHORT) };
  } catch (error) {
    const { name, message } = error as InvocationError;
    return { ok: false, name, message };
  }
}

/**
 * Starts two environments with `env`, one preparing at init and one not (as before the
 * preparation existed), and returns both first invocations' outcomes.
 */
async function firstInvocations(
  handler: 'writer' | 'reader',
  env: Record<string, string>,
  event: unknown
) {
  const [prepared, unprepared] = await Promise.all([
    LambdaEnvironment.start(handler, env),
    LambdaEnvironment.start(handler, { ...env, [PREPARE_AT_INIT_ENV]: 'false' }),
  ]);
  try {
    return await Promise.all([outcome(prepared, event), outcome(unprepared, event)]);
  } finally {
    await Promise.all([prepared.stop(), unprepared.stop()]);
  }
}

describe('the init phase runs the data path once, on a connection closed before the init ends', () => {
  let db: AppDatabase;

  beforeAll(async () => {
    db = await AppDatabase.create('initprep');
  });

  afterAll(async () => {
    await db?.dispose();
  });

  test('one connection, closed by the time the environment is initialised; nothing left on the server', async () => {
    const relay = await TcpRelay.start({ target: db.server });
    try {
      const env = await LambdaEnvironment.start('reader', {
        ...db.env('reader', { port: relay.port }),
        [PREPARATION_BUDGET_ENV]: String(HANG_MS),
      });
      try {
        // THEN the init opened exactly one connection and the server closed it after COM_QUIT
        expect(relay.read().connections).toBe(1);
        expect(await relay.drained(5000)).toBe(true);
        expect(await db.waitForNoSessions()).toEqual([]);
        // AND the first invocation opens its own, as every invocation does
        await expect(env.invoke({ email: 'nobody@example.com' })).resolves.toMatchObject({
          user: null,
        });
        expect(relay.read().connections).toBe(2);
      } finally {
        await env.stop();
      }
    } finally {
      await relay.stop();
    }
  });

  test('the reader prepares every instance its reads go to: the primary and each replica', async () => {
    // Two relays in front of the one server stand for two instances (TLS sessions are per host:port).
    const [primary, replica] = await Promise.all([
      TcpRelay.start({ target: db.server }),
      TcpRelay.start({ target: db.server }),
    ]);
    try {
      const env = await LambdaEnvironment.start('reader', {
        ...db.env('reader', { port: primary.port }),
        DATABASE_REPLICA_URL: db.env('reader', { port: replica.port }).DATABASE_URL,
      });
      await env.stop();
      expect([primary.read().connections, replica.read().connections]).toEqual([1, 1]);
    } finally {
      await Promise.all([primary.stop(), replica.stop()]);
    }
  });

  test('behind RDS Proxy (DB_PROXY_HOST) it goes through the proxy, as the handlers do', async () => {
    const secrets = await SecretsEndpoint.start();
    const proxy = await TcpRelay.start({ target: db.server });
    try {
      // The secret names the instance, which the function cannot reach; the proxy is the relay.
      secrets.set('AWSCURRENT', {
        ...db.secret('writer', { port: proxy.port }),
        host: 'instance.invalid',
      });
      const env = await LambdaEnvironment.start('writer', {
        ...secrets.env(),
        DB_PROXY_HOST: db.server.host,
        ...(db.server.caFile ? { DB_TLS_CA_FILE: db.server.caFile } : {}),
      });
      try {
        expect(proxy.read().connections).toBe(1);
        await expect(env.invoke({ email: 'proxy@example.com', name: 'P' })).resolves.toMatchObject({
          user: { name: 'P' },
        });
        expect(proxy.read().connections).toBe(2);
      } finally {
        await env.stop();
      }
    } finally {
      await Promise.all([proxy.stop(), secrets.stop()]);
    }
  });

  test('the statement reads no row and writes nothing, on the writer grants too', async () => {
    // A row with the very value it binds: still not read.
    await db.admin.query("INSERT INTO users (email, name) VALUES ('init-preparation', 'x')");
    const count = async () =>
      (
        await db.admin.query<import('mysql2').RowDataPacket[]>('SELECT COUNT(*) AS n FROM users')
      )[0][0].n;
    const before = await count();
    const rows: unknown[] = [];
    const outcome = await prepareDataPath(
      () => [db.inProcess('writer')],
      async (connection) => {
        rows.push(await connection.query(PREPARE_STATEMENT_PROBE, ['init-preparation']));
        await prepareUsersStatement(connection);
      },
      { budgetMs: HANG_MS } // the outcome is asserted: no 1 s budget on a busy machine
    );
    expect(outcome).toBe('succeeded');
    expect(rows).toEqual([[]]);
    expect(await count()).toBe(before);
    await db.admin.query("DELETE FROM users WHERE email = 'init-preparation'");
  });

  test('DB_PREPARE_AT_INIT=false skips it: the secret is still read, no connection is opened', async () => {
    const relay = await TcpRelay.start({ target: db.server });
    try {
      const env = await LambdaEnvironment.start('reader', {
        ...db.env('reader', { port: relay.port }),
        [PREPARE_AT_INIT_ENV]: 'false',
      });
      await env.stop();
      expect(relay.read().connections).toBe(0);
    } finally {
      await relay.stop();
    }
  });

  describe('a failed preparation fails neither the init nor the first invocation, which behaves as without it', () => {
    test('unreachable database (refused port)', async () => {
      const port = await freePort();
      const [prepared, unprepared] = await firstInvocations(
        'reader',
        db.env('reader', { port }),
        {}
      );
      expect(prepared).toEqual(unprepared);
      expect(prepared).toMatchObject({ ok: false, name: 'DatabaseUnreachableError' });
    });

    test('wrong secret: the init tries no other password; the invocation reads the same versions', async () => {
      const secrets = await SecretsEndpoint.start();
      try {
        secrets.set('AWSCURRENT', db.secret('writer', { password: 'not-the-password' }));
        const env = {
          ...secrets.env(),
          ...(db.server.caFile ? { DB_TLS_CA_FILE: db.server.caFile } : {}),
        };
        const prepared = await LambdaEnvironment.start('writer', env);
        try {
          // the init read AWSCURRENT once and, denied, gave up: no AWSPENDING, no second read
          expect(secrets.reads).toEqual(['AWSCURRENT']);
          const first = await outcome(prepared, { email: 'w@example.com', name: 'W' });
          const readsPrepared = secrets.reads.splice(0);
          const unprepared = await LambdaEnvironment.start('writer', {
            ...env,
            [PREPARE_AT_INIT_ENV]: 'false',
          });
          try {
            expect(await outcome(unprepared, { email: 'w@example.com', name: 'W' })).toEqual(first);
            expect(secrets.reads).toEqual(readsPrepared); // the same secret reads, in order
            expect(first).toMatchObject({ ok: false, name: 'DatabaseAccessDeniedError' });
          } finally {
            await unprepared.stop();
          }
        } finally {
          await prepared.stop();
        }
      } finally {
        await secrets.stop();
      }
    });

    test('a full server (max_connections): one attempt at init, no retry; the invocation retries as before', async () => {
      const full = await fakeServer(tooManyConnections);
      try {
        const env = await LambdaEnvironment.start('reader', db.env('reader', { port: full.port }));
        try {
          expect(full.connections).toBe(1); // the init did not retry
        } finally {
          await env.stop();
        }
        const [prepared, unprepared] = await firstInvocations(
          'reader',
          db.env('reader', { port: full.port }),
          {}
        );
        expect(prepared).toEqual(unprepared);
        expect(prepared).toMatchObject({ ok: false, name: 'TooManyConnectionsError' });
      } finally {
        await full.stop();
      }
    });

    test('a proxy that refuses (closes the connection at once)', async () => {
      const refusing = await fakeServer((socket) => socket.destroy());
      try {
        const [prepared, unprepared] = await firstInvocations(
          'writer',
          db.env('writer', { port: refusing.port }),
          { email: 'p@example.com', name: 'P' }
        );
        expect(prepared).toEqual(unprepared);
        expect(prepared.ok).toBe(false);
      } finally {
        await refusing.stop();
      }
    });
  });

  describe('the whole preparation is bounded by its budget, whatever the server does', () => {
    test('the budget is split so that connect, statement and close cannot pass it', () => {
      for (const budget of [3, 100, 1000, 2500]) {
        const { connectMs, statementMs, closeMs } = rehearsalShares(budget);
        expect(connectMs + statementMs + closeMs).toBeLessThanOrEqual(budget);
        expect(Math.min(connectMs, statementMs)).toBeGreaterThan(0);
      }
    });

    test('a server that accepts and never answers: the connect gives up at its share of the budget, socket closed', async () => {
      const silent = await fakeServer(() => undefined);
      try {
        const failures: unknown[] = [];
        const budgetMs = 400;
        const result = await prepareDataPath(
          () => [databaseAt(db, 'reader', silent.port)],
          prepareUsersStatement,
          { budgetMs, onFailure: (error) => failures.push(error) }
        );
        expect(result).toBe('failed');
        expect(failures).toHaveLength(1);
        expect(failures[0]).toMatchObject({
          code: 'ETIMEDOUT',
          phase: 'connect',
          timeoutMs: rehearsalShares(budgetMs).connectMs,
        });
        expect(
          await pollUntil(
            async () => silent.open,
            (open) => open === 0
          )
        ).toBe(0);
      } finally {
        await silent.stop();
      }
    });

    test('a statement stuck behind a metadata lock: the client gives up at its share; the server ends it itself', async () => {
      const locker = await adminConnect(db.server, db.database);
      try {
        await locker.query('LOCK TABLES users WRITE');
        const failures: ConnectionFailure[] = [];
        const budgetMs = 1000; // a statement share (300 ms) below lock_wait_timeout (1 s)
        const result = await prepareDataPath(
          () => [db.inProcess('reader')],
          prepareUsersStatement,
          { budgetMs, onFailure: (error) => failures.push(error as ConnectionFailure) }
        );
        expect(result).toBe('failed');
        // Whichever step ran out (on a busy machine the handshake may), it gave up at its share.
        const shares = rehearsalShares(budgetMs);
        expect(failures[0]).toMatchObject(
          failures[0].phase === 'connect'
            ? { phase: 'connect', timeoutMs: shares.connectMs }
            : { phase: 'query', timeoutMs: shares.statementMs }
        );
      } finally {
        await locker.query('UNLOCK TABLES');
        await locker.end();
      }
      // the server's own bound (lock_wait_timeout) ended the waiting SELECT; nothing is left
      expect(await db.waitForNoSessions()).toEqual([]);
    });
  });
});

/** The shipped data layer as `role`, connecting to `port` on the test server's host. */
function databaseAt(db: AppDatabase, role: 'reader' | 'writer', port: number): Database {
  const config = readDatabaseConfig(db.env(role, { port }));
  if (config.kind !== 'url') throw new Error('expected DATABASE_URL configuration');
  return new Database({ credentials: new StaticCredentials(config.credentials), tls: config.tls });
}
