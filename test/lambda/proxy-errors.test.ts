import { readFileSync } from 'node:fs';
import { Connection, RowDataPacket, createConnection } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import {
  BehindProxy,
  BehindProxyOptions,
  startBehindProxy,
} from '../support/rds-proxy/behind-proxy';
import { readState } from '../support/state';

/**
 * RDS Proxy's own errors reach the bundled handlers as named errors that say nothing was
 * written and a retry is safe (rds-proxy.troubleshooting.html): 9501 when no database connection
 * frees up within ConnectionBorrowTimeout, 1040 with the proxy's texts for its client limits.
 */
const describeWithServer = readState().server.dir ? describe : describe.skip;

describeWithServer("the proxy's own errors, as the functions report them", () => {
  let db: AppDatabase;
  let proxied: BehindProxy | undefined;
  const environments: LambdaEnvironment[] = [];

  beforeAll(async () => {
    db = await AppDatabase.create('proxyerr');
  });

  afterEach(async () => {
    await Promise.all(environments.splice(0).map((e) => e.stop()));
    await proxied?.stop();
    proxied = undefined;
  });

  afterAll(async () => {
    await db?.dispose();
  });

  async function functionsBehind(options: BehindProxyOptions) {
    proxied = await startBehindProxy(db, options);
    const [writer, reader] = await Promise.all([
      LambdaEnvironment.start('writer', proxied.env('writer')),
      LambdaEnvironment.start('reader', proxied.env('reader')),
    ]);
    environments.push(writer, reader);
    return { writer, reader };
  }

  const written = async (email: string) =>
    (await db.admin.query<RowDataPacket[]>('SELECT 1 FROM users WHERE email = ?', [email]))[0];

  test('9501 (no connection within the borrow timeout) is DatabaseProxyBorrowTimeoutError', async () => {
    // GIVEN a pool of one connection, held by another client's open transaction
    const { writer, reader } = await functionsBehind({
      pool: {
        maxConnections: 1,
        maxConnectionsPercent: 100,
        maxIdleConnectionsPercent: 100,
        connectionBorrowTimeoutMs: 200,
      },
    });
    const holder: Connection = await createConnection({
      host: proxied!.proxy.host,
      port: proxied!.proxy.port,
      user: db.users.reader.user,
      password: db.users.reader.password,
      database: db.database,
      ssl: { ca: readFileSync(proxied!.proxy.caFile, 'utf8') },
    });
    try {
      await holder.query('START TRANSACTION');
      await holder.query('SELECT 1');
      // WHEN the functions' statements wait for a connection
      const expected = {
        name: 'DatabaseProxyBorrowTimeoutError',
        message: expect.stringMatching(
          /ConnectionBorrowTimeout.*nothing was written, and retrying is safe.*MaxConnectionsPercent.*server-bounds\.ts/s
        ),
      };
      await expect(writer.invoke({ email: 'waits@example.com', name: 'W' })).rejects.toMatchObject(
        expected
      );
      await expect(reader.invoke({ email: 'waits@example.com' })).rejects.toMatchObject(expected);
      expect(await written('waits@example.com')).toEqual([]);
      expect(proxied!.proxy.counters()).toMatchObject({ borrowTimeouts: 2 });
    } finally {
      await holder.end();
    }
    // THEN once the transaction ends, the same invocation goes through
    await expect(writer.invoke({ email: 'waits@example.com', name: 'W' })).resolves.toBeDefined();
  });

  test.each([
    [
      'simultaneous connections',
      { maxClientConnections: 0 },
      'Number simultaneous connections exceeded',
    ],
    ['connection rate', { maxConnectionsPerSecond: 0 }, 'Connections rate limit exceeded'],
  ])(
    "the proxy's 1040 (%s) is DatabaseProxyConnectionLimitError, not max_connections",
    async (_, clientLimits, text) => {
      const { writer } = await functionsBehind({ clientLimits });
      await expect(
        writer.invoke({ email: 'refused@example.com', name: 'R' }, { remainingMs: 3000 })
      ).rejects.toMatchObject({
        name: 'DatabaseProxyConnectionLimitError',
        message: expect.stringMatching(new RegExp(`${text}.*Nothing reached the database`, 's')),
      });
      expect(await written('refused@example.com')).toEqual([]);
    }
  );
});
