import { readFileSync } from 'node:fs';
import { Connection, RowDataPacket, createConnection } from 'mysql2/promise';
import { PROXY_BORROW_TIMEOUT_MS } from '../../lambda/lib/server-bounds';
import { UPSERT_USER_PROCEDURE } from '../../lambda/lib/users-schema';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { adminConnect } from '../support/private-server';
import { Route, startRoute } from '../support/rds-proxy/routes';
import { readState } from '../support/state';

/**
 * The writer's routine never commits a transaction it did not start (issue 22). Behind RDS Proxy
 * a database session can arrive with one open: a CALL interrupted inside its transaction (on
 * MySQL a killed statement skips the routine's handlers) answers with an ERR packet, which
 * carries no status flags, and the proxy, which does not track state changed inside routines,
 * gives that connection to the next client. START TRANSACTION would commit what it finds.
 */
const describeWithServer = readState().server.dir ? describe : describe.skip;

/** One database connection in the pool, so the next client surely gets the same one. */
const ONE_CONNECTION = {
  maxConnections: 1,
  maxConnectionsPercent: 100,
  maxIdleConnectionsPercent: 100,
  connectionBorrowTimeoutMs: PROXY_BORROW_TIMEOUT_MS,
};

describeWithServer('a write on a session with a transaction already open', () => {
  let db: AppDatabase;

  beforeAll(async () => {
    db = await AppDatabase.create('inherit');
    // What an interrupted CALL leaves behind, deterministically: a routine that starts a
    // transaction, writes, and ends in an error before its COMMIT.
    await db.admin.query(`CREATE PROCEDURE leave_transaction_open(IN p_email VARCHAR(254))
      SQL SECURITY INVOKER
      BEGIN
        START TRANSACTION;
        INSERT INTO users (email, name) VALUES (p_email, 'Left open');
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'interrupted inside its transaction';
      END`);
    await db.admin.query(
      `GRANT EXECUTE ON PROCEDURE ${db.database}.leave_transaction_open TO ?@?`,
      [db.users.writer.user, '%']
    );
  });

  afterAll(async () => {
    await db?.dispose();
  });

  async function namesOf(...emails: string[]): Promise<string[]> {
    const [rows] = await db.admin.query<RowDataPacket[]>(
      'SELECT name FROM users WHERE email IN (?) ORDER BY email',
      [emails]
    );
    return rows.map((r) => String(r.name));
  }

  test('START TRANSACTION; INSERT; CALL the routine; ROLLBACK: nothing is committed', async () => {
    // The sequence that commits the INSERT with upsert_user_v2 (MariaDB and MySQL alike).
    const session = await createConnection({
      host: db.server.host,
      port: db.server.port,
      user: db.users.writer.user,
      password: db.users.writer.password,
      database: db.database,
      ssl: { ca: readFileSync(db.server.caFile!, 'utf8') },
    });
    try {
      await session.query('START TRANSACTION');
      await session.query("INSERT INTO users (email, name) VALUES ('mine@example.com', 'Mine')");
      await expect(
        session.query(`CALL ${UPSERT_USER_PROCEDURE}('routine@example.com', 'Routine')`)
      ).rejects.toMatchObject({ errno: 1568 });
      await session.query('ROLLBACK');
    } finally {
      await session.end();
    }
    expect(await namesOf('mine@example.com', 'routine@example.com')).toEqual([]);
  });

  describe('through the pooling RDS Proxy stand-in', () => {
    let route: Route;
    let writer: LambdaEnvironment;

    beforeAll(async () => {
      route = await startRoute('through RDS Proxy', db, ONE_CONNECTION);
      writer = await LambdaEnvironment.start('writer', route.env('writer'));
    });

    afterAll(async () => {
      await writer?.stop();
      await route?.stop();
    });

    /** The database thread of the pool's one connection. */
    async function poolThread(): Promise<number[]> {
      return (await db.sessions()).map((s) => Number(s.id));
    }

    test('the next client of a connection left in a transaction does not commit it', async () => {
      // GIVEN a client whose CALL ended in an error inside its transaction, through the proxy
      const client: Connection = await createConnection({
        host: route.proxy!.host,
        port: route.proxy!.port,
        user: db.users.writer.user,
        password: db.users.writer.password,
        database: db.database,
        ssl: { ca: readFileSync(route.proxy!.caFile, 'utf8') },
      });
      await expect(
        client.query("CALL leave_transaction_open('leftover@example.com')")
      ).rejects.toMatchObject({ errno: 1644 });
      await client.end();
      const [thread] = await poolThread();

      // WHEN the bundled writer's next invocation gets that connection from the pool
      const invocation = writer.invoke({ email: 'next@example.com', name: 'Next' });

      // THEN it is refused with a named error, and the leftover is rolled back, not committed
      await expect(invocation).rejects.toMatchObject({
        name: 'DatabaseInheritedTransactionError',
        message: expect.stringContaining('retrying is safe'),
      });
      expect(await poolThread()).toEqual([thread]);
      expect(await namesOf('leftover@example.com', 'next@example.com')).toEqual([]);
      // AND the retry, on the same connection, now clean, succeeds
      await expect(
        writer.invoke({ email: 'next@example.com', name: 'Next' })
      ).resolves.toMatchObject({ user: { name: 'Next' } });
      expect(await poolThread()).toEqual([thread]);
      expect(await route.settled()).toEqual([]);
    });

    test('a CALL killed by KILL QUERY: outcome unknown; its connection serves the next client', async () => {
      const email = 'killed@example.com';
      await db.admin.query("INSERT IGNORE INTO users (email, name) VALUES (?, 'Before')", [email]);
      const locker = await adminConnect(db.server, db.database);
      try {
        await locker.query('START TRANSACTION');
        await locker.query('SELECT * FROM users WHERE email = ? FOR UPDATE', [email]);
        // WHEN the writer's CALL, waiting for the row, is interrupted on the server
        const invocation = writer.invoke({ email, name: 'Killed' });
        const [running] = await db.waitForSessions((s) => s.some((x) => x.command === 'Query'));
        await db.admin.query(`KILL QUERY ${Number(running.id)}`);
        // THEN the function says the outcome is unknown and a retry is safe
        await expect(invocation).rejects.toMatchObject({
          name: 'DatabaseConnectionLostError',
          message: expect.stringMatching(/interrupted the statement.*outcome is unknown.*safe/s),
        });
        await locker.query('ROLLBACK');
        // AND the proxy kept the database connection and lends it to the next invocation,
        // whose write goes through (at worst after refusing what the killed CALL left open)
        const next = await writer
          .invoke({ email: 'after-kill@example.com', name: 'After' })
          .catch((error) => {
            expect(error).toMatchObject({ name: 'DatabaseInheritedTransactionError' });
            return writer.invoke({ email: 'after-kill@example.com', name: 'After' });
          });
        expect(next).toMatchObject({ user: { name: 'After' } });
        expect(await poolThread()).toEqual([Number(running.id)]);
        expect(await namesOf(email)).toEqual(['Before']);
        expect(await route.settled()).toEqual([]);
      } finally {
        await locker.end();
      }
    });
  });
});
