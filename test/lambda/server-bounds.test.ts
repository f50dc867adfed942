import { Connection, RowDataPacket } from 'mysql2/promise';
import { readDatabaseConfig } from '../../lambda/lib/config';
import { StaticCredentials } from '../../lambda/lib/credentials';
import { Database } from '../../lambda/lib/database';
import {
  READ_SERVER_BOUND_MS,
  STATEMENT_TIMEOUT_MS,
  WRITE_SERVER_BOUND_MS,
} from '../../lambda/lib/server-bounds';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { pollUntil } from '../support/poll';
import { adminConnect } from '../support/private-server';

interface Outcome {
  ok: boolean;
  name?: string;
  message?: string;
  endedAt: number;
}

const WRITERS = 16;
const READERS = 6;

/**
 * The pile-up: a transaction reads `users`, an ALTER TABLE queues behind it, and every
 * later statement on `users` waits for the metadata lock. With the parameter group's bounds
 * (server-bounds.ts, which the test server runs with) each function statement ends ON THE SERVER
 * with a named error before the client gives up, so no session outlives its invocation and no
 * write reported as failed commits when the lock is released.
 */
describe('a metadata-lock stall with 22 environments', () => {
  let db: AppDatabase;
  let writers: LambdaEnvironment[];
  let readers: LambdaEnvironment[];
  let holder: Connection;
  let alterer: Connection;
  let round = 0;

  beforeAll(async () => {
    db = await AppDatabase.create('mdl');
    [writers, readers] = await Promise.all([
      Promise.all(
        Array.from({ length: WRITERS }, () => LambdaEnvironment.start('writer', db.env('writer')))
      ),
      Promise.all(
        Array.from({ length: READERS }, () => LambdaEnvironment.start('reader', db.env('reader')))
      ),
    ]);
    holder = await adminConnect(db.server, db.database);
    alterer = await adminConnect(db.server, db.database);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...(writers ?? []), ...(readers ?? [])].map((env) => env.stop()));
    await holder?.end();
    await alterer?.end();
    await db?.dispose();
  });

  function invokeAll(): Promise<{ writes: Outcome[]; reads: Outcome[]; emails: string[] }> {
    round++;
    const emails = writers.map((_, i) => `stall-${round}-${i}@example.com`);
    const outcome = (p: Promise<unknown>): Promise<Outcome> =>
      p.then(
        () => ({ ok: true, endedAt: Date.now() }),
        (error: Error) => ({
          ok: false,
          name: error.name,
          message: error.message,
          endedAt: Date.now(),
        })
      );
    return Promise.all([
      Promise.all(
        writers.map((env, i) => outcome(env.invoke({ email: emails[i], name: 'Stalled' })))
      ),
      Promise.all(readers.map((env) => outcome(env.invoke({ email: emails[0] })))),
    ]).then(([writes, reads]) => ({ writes, reads, emails }));
  }

  /** Sessions of the function users, polled until none is left; resolves with how long that took. */
  async function sessionsGoneWithin(after: number): Promise<number> {
    const left = await pollUntil(
      () => db.sessions(),
      (s) => s.length === 0,
      { retries: 400 }
    );
    expect(left).toEqual([]);
    return Date.now() - after;
  }

  async function writtenAmong(emails: string[]): Promise<string[]> {
    const [rows] = await db.admin.query<RowDataPacket[]>(
      'SELECT email FROM users WHERE email IN (?)',
      [emails]
    );
    return rows.map((row) => row.email);
  }

  test('behind a queued ALTER TABLE: named errors, no session outlives its invocation, no failed write lands later', async () => {
    // GIVEN a reader's open transaction and an ALTER TABLE queued behind it
    await holder.query('START TRANSACTION');
    await holder.query('SELECT COUNT(*) FROM users');
    const altered = alterer.query("ALTER TABLE users COMMENT = 'stall probe'");
    const [waiting] = await pollUntil(
      async () =>
        (
          await db.admin.query<RowDataPacket[]>(
            "SELECT id FROM information_schema.PROCESSLIST WHERE state LIKE 'Waiting for table metadata lock' AND info LIKE 'ALTER TABLE users%'"
          )
        )[0],
      (rows) => rows.length > 0,
      { retries: 300 }
    );
    expect(waiting).toBeDefined();

    // WHEN every environment writes or reads while the lock is held
    const started = Date.now();
    const { writes, reads, emails } = await invokeAll();

    // THEN each one failed with the server's lock-wait error (retryable), not the client timeout
    for (const outcome of [...writes, ...reads]) {
      expect(outcome).toMatchObject({ ok: false, name: 'DatabaseLockConflictError' });
      expect(outcome.message).toContain('metadata lock');
    }
    // ... no function session is left on the server, although the lock is still held
    const lastEnded = Math.max(...[...writes, ...reads].map((o) => o.endedAt));
    expect(await sessionsGoneWithin(lastEnded)).toBeLessThan(2000);
    expect(lastEnded - started).toBeLessThan(STATEMENT_TIMEOUT_MS + 5000);

    // ... and once the lock is released, none of the failed writes is applied
    await holder.query('ROLLBACK');
    await altered;
    expect(await writtenAmong(emails)).toEqual([]);
    // the table works again
    await expect(writers[0].invoke({ email: emails[0], name: 'After' })).resolves.toMatchObject({
      user: { email: emails[0], version: 1 },
    });
  });

  test('behind LOCK TABLES users READ: writes fail on the server, reads go on, nothing lands later', async () => {
    await holder.query('LOCK TABLES users READ');
    let emails: string[];
    let lastEnded: number;
    try {
      const outcome = await invokeAll();
      emails = outcome.emails;
      for (const write of outcome.writes) {
        expect(write).toMatchObject({ ok: false, name: 'DatabaseLockConflictError' });
      }
      for (const read of outcome.reads) {
        expect(read).toMatchObject({ ok: true });
      }
      lastEnded = Math.max(...outcome.writes.map((o) => o.endedAt));
      expect(await sessionsGoneWithin(lastEnded)).toBeLessThan(2000);
    } finally {
      await holder.query('UNLOCK TABLES');
    }
    expect(await writtenAmong(emails)).toEqual([]);
  });
});

describe('the relation of the bounds', () => {
  let db: AppDatabase;

  beforeAll(async () => {
    db = await AppDatabase.create('bounds');
  });

  afterAll(async () => {
    await db?.dispose();
  });

  test('server bounds < client statement timeout', () => {
    expect(WRITE_SERVER_BOUND_MS).toBeLessThan(STATEMENT_TIMEOUT_MS);
    expect(READ_SERVER_BOUND_MS).toBeLessThan(STATEMENT_TIMEOUT_MS);
  });

  test('a long read is stopped by the server (max_execution_time) before the client gives up', async () => {
    const config = readDatabaseConfig(db.env('reader'));
    if (config.kind !== 'url') throw new Error('expected DATABASE_URL configuration');
    const database = new Database({
      credentials: new StaticCredentials(config.credentials),
      tls: config.tls,
    });
    const started = Date.now();
    await expect(database.run((c) => c.query('SELECT SLEEP(30)', []))).rejects.toMatchObject({
      name: 'DatabaseStatementTimeoutError',
    });
    expect(Date.now() - started).toBeLessThan(STATEMENT_TIMEOUT_MS);
  });

  test('with less time left than a statement may take, nothing is sent and nothing is written', async () => {
    const writer = await LambdaEnvironment.start('writer', db.env('writer'));
    try {
      await expect(
        writer.invoke(
          { email: 'late@example.com', name: 'Too Late' },
          { remainingMs: STATEMENT_TIMEOUT_MS }
        )
      ).rejects.toMatchObject({
        name: 'NotEnoughTimeError',
        message: expect.stringContaining('not sent'),
      });
      const [rows] = await db.admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM users');
      expect(Number(rows[0].n)).toBe(0);
      expect(await db.waitForNoSessions()).toEqual([]);
    } finally {
      await writer.stop();
    }
  });
});
