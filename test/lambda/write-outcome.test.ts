import { Connection, RowDataPacket } from 'mysql2/promise';
import { SERVER_BOUNDS } from '../../lambda/lib/server-bounds';
import { upsertUser } from '../../lambda/lib/users-repository';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { pollUntil } from '../support/poll';
import {
  ServerInfo,
  adminConnect,
  startPrivateServer,
  stopPrivateServer,
} from '../support/private-server';
import { startWriterAndReader, stopWriterAndReader } from '../support/writer-and-reader';

/** A row-lock wait longer than max_execution_time, so that the two can be told apart. */
const ROW_LOCK_WAIT_SECONDS = 3;

/**
 * What bounds the writer on MySQL 8.4, and what happens to a write the client gave up on.
 *
 * MySQL's max_execution_time stops only top-level read-only SELECTs: not the writer's CALL, not
 * the statements inside it (https://dev.mysql.com/doc/refman/8.4/en/server-system-variables.html#sysvar_max_execution_time).
 * The test server gives that bound to the reader's account only (mysqlExecutionTimeFor() in
 * test/support/private-server.ts). The writer's CALL is bounded by its lock waits alone
 * (lock_wait_timeout, innodb_lock_wait_timeout; server-bounds.ts) and by the work it does.
 *
 * A server of its own: its row-lock wait (3 s) is longer than max_execution_time (2 s), and the
 * last suite makes it read-only.
 */
let server: ServerInfo;

beforeAll(async () => {
  server = await startPrivateServer({ lockWaitTimeout: ROW_LOCK_WAIT_SECONDS });
});

afterAll(async () => {
  if (server) await stopPrivateServer(server);
});

describe('what bounds a write', () => {
  const email = 'bounded@example.com';
  let db: AppDatabase;
  let writer: LambdaEnvironment;
  let locker: Connection;

  beforeAll(async () => {
    db = await AppDatabase.create('bounds', server);
    writer = await LambdaEnvironment.start('writer', db.env('writer'));
    await db.admin.query("INSERT INTO users (email, name) VALUES (?, 'Before')", [email]);
    locker = await adminConnect(server, db.database);
  });

  afterAll(async () => {
    await locker?.end();
    await writer?.stop();
    await db?.dispose();
  });

  test("max_execution_time does not stop the writer's CALL; the row-lock wait does", async () => {
    expect(ROW_LOCK_WAIT_SECONDS * 1000).toBeGreaterThan(SERVER_BOUNDS.maxExecutionTimeMs);
    await locker.query('START TRANSACTION');
    await locker.query('SELECT * FROM users WHERE email = ? FOR UPDATE', [email]);
    try {
      // A server that stopped every statement at max_execution_time (MariaDB's
      // max_statement_time) would end this CALL first, as DatabaseStatementTimeoutError.
      await expect(writer.invoke({ email, name: 'Waits' })).rejects.toMatchObject({
        name: 'DatabaseLockConflictError',
      });
    } finally {
      await locker.query('ROLLBACK');
    }
    expect(await db.waitForNoSessions()).toEqual([]);
  });

  test('a write the client gave up on keeps running on the server and may commit later; the retry is harmless', async () => {
    // A client timeout below the server's bounds, on purpose: it stands for a stall no server
    // bound covers (a commit waiting on a slow fsync, a stalled volume), after which the client
    // gives up and drops the connection while the server is still working on the CALL.
    await locker.query('START TRANSACTION');
    await locker.query('SELECT * FROM users WHERE email = ? FOR UPDATE', [email]);
    const impatient = db.inProcess('writer', { statementTimeoutMs: 300 });
    await expect(
      impatient.run((c) => upsertUser(c, { email, name: 'Late' }))
    ).rejects.toMatchObject({
      name: 'DatabaseUnresponsiveError',
      message: expect.stringContaining('the outcome of a write is unknown'),
    });
    // The client has closed its socket; the server has not noticed: the CALL still waits.
    const [stillRunning] = await db.sessions();
    expect(stillRunning).toMatchObject({
      user: db.users.writer.user,
      info: expect.stringContaining('INSERT INTO users'), // the routine's statement, waiting
    });

    // The stall ends: the CALL goes on, and commits what the caller was told had failed.
    await locker.query('COMMIT');
    const landed = await pollUntil(
      () => nameAndVersion(db, email),
      (row) => row.name === 'Late'
    );
    expect(landed).toEqual({ name: 'Late', version: 2, rows: 1 });
    expect(await db.waitForNoSessions()).toEqual([]);

    // The caller retries the same event: same row, nothing changes (idempotent upsert).
    const { user } = await writer.invoke<{ user: { name: string; version: number } }>({
      email,
      name: 'Late',
    });
    expect(user).toMatchObject({ name: 'Late', version: 2 });
    expect(await nameAndVersion(db, email)).toEqual({ name: 'Late', version: 2, rows: 1 });
  });
});

describe('a read-only server (an RDS blue/green switchover, a replica endpoint)', () => {
  let db: AppDatabase;
  let writer: LambdaEnvironment;
  let reader: LambdaEnvironment;

  beforeAll(async () => {
    ({ db, writer, reader } = await startWriterAndReader('readonly', server));
  });

  afterAll(async () => {
    await db?.admin.query('SET GLOBAL read_only = OFF');
    await stopWriterAndReader({ db, writer, reader });
  });

  test('refuses the write with DatabaseReadOnlyError and the read with DatabaseNotPrimaryError; both succeed after the switch', async () => {
    const event = { email: 'switch@example.com', name: 'During' };
    // MySQL 8.4's super_read_only; MariaDB's read_only stops users without READ_ONLY ADMIN.
    await db.admin.query('SET GLOBAL read_only = ON');
    await expect(writer.invoke(event)).rejects.toMatchObject({
      name: 'DatabaseReadOnlyError',
      message: expect.stringMatching(/read-only.*Nothing was written.*next invocation succeeds/s),
    });
    // A read-only server cannot be the current primary (read-routing.ts): its answer, possibly
    // stale, is refused too, email and list reads alike.
    for (const read of [{ email: event.email }, { limit: 10 }]) {
      await expect(reader.invoke(read)).rejects.toMatchObject({
        name: 'DatabaseNotPrimaryError',
        message: expect.stringMatching(/read-only.*Nothing was written; retry/s),
      });
    }
    expect(await db.waitForNoSessions()).toEqual([]);

    await db.admin.query('SET GLOBAL read_only = OFF'); // the endpoint now names a writable primary
    await expect(writer.invoke(event)).resolves.toMatchObject({
      user: { name: 'During', version: 1 },
    });
    await expect(reader.invoke({ email: event.email })).resolves.toMatchObject({
      user: { name: 'During', version: 1 },
      servedBy: 'primary',
    });
  });
});

async function nameAndVersion(
  db: AppDatabase,
  email: string
): Promise<{ name: string; version: number; rows: number }> {
  const [rows] = await db.admin.query<RowDataPacket[]>(
    'SELECT name, version FROM users WHERE email = ?',
    [email]
  );
  return { name: rows[0]?.name, version: Number(rows[0]?.version), rows: rows.length };
}
