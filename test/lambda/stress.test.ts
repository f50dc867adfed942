import { Connection, RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { pollUntil } from '../support/poll';
import { adminConnect, withMigrationSession } from '../support/private-server';

interface User {
  id: number;
  email: string;
  name: string;
  version: number;
}

interface Outcome {
  ok: boolean;
  name?: string;
  message?: string;
}

const WRITERS = 40;
const READERS = 6;
const ROUNDS = 4;

/**
 * Many environments at once, one set for every test here, since starting them is what costs.
 * The metadata-lock pile-up: a transaction reads `users`, an ALTER TABLE queues behind it, and every
 * later statement on `users` waits for the metadata lock. With the parameter group's bounds
 * (server-bounds.ts, which the test server runs with) each function statement ends ON THE SERVER
 * with a named error before the client gives up, so no session outlives its invocation and no
 * write reported as failed commits when the lock is released.
 */
describe('40 writer and 6 reader environments', () => {
  let db: AppDatabase;
  let writers: LambdaEnvironment[];
  let readers: LambdaEnvironment[];
  let holder: Connection;
  let alterer: Connection;
  let round = 0;

  beforeAll(async () => {
    db = await AppDatabase.create('stress');
    [writers, readers] = await Promise.all([
      Promise.all(
        Array.from({ length: WRITERS }, () => LambdaEnvironment.start('writer', db.env('writer')))
      ),
      Promise.all(
        Array.from({ length: READERS }, () => LambdaEnvironment.start('reader', db.env('reader')))
      ),
    ]);
    // Starting 46 environments (each preparing its data path at init) can take longer than the
    // test server's wait_timeout on a busy machine: sessions() reopens an admin connection that
    // idled out meanwhile, so the tests below find it open.
    await db.sessions();
    holder = await adminConnect(db.server, db.database);
    // The ALTER must queue behind the open transaction for seconds, like a migration's.
    alterer = await withMigrationSession(await adminConnect(db.server, db.database));
  });

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
        () => ({ ok: true }),
        (error: Error) => ({
          ok: false,
          name: error.name,
          message: error.message,
        })
      );
    return Promise.all([
      Promise.all(
        writers.map((env, i) => outcome(env.invoke({ email: emails[i], name: 'Stalled' })))
      ),
      Promise.all(readers.map((env) => outcome(env.invoke({ email: emails[0] })))),
    ]).then(([writes, reads]) => ({ writes, reads, emails }));
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
      (rows) => rows.length > 0
    );
    expect(waiting).toBeDefined();

    // WHEN every environment writes or reads while the lock is held
    const { writes, reads, emails } = await invokeAll();

    // THEN each one failed with the server's lock-wait error (retryable), not the client timeout
    for (const outcome of [...writes, ...reads]) {
      expect(outcome).toMatchObject({ ok: false, name: 'DatabaseLockConflictError' });
      expect(outcome.message).toContain('metadata lock');
    }
    // (the server's error, so the server ended each statement: a client timeout would be
    // DatabaseUnresponsiveError) ... and no function session is left on the server although the
    // lock is still held: a session still waiting, or left open, would stay until the lock goes
    // or wait_timeout closes it, and waitForNoSessions gives up before either.
    expect(await db.waitForNoSessions()).toEqual([]);

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
    try {
      const outcome = await invokeAll();
      emails = outcome.emails;
      for (const write of outcome.writes) {
        expect(write).toMatchObject({ ok: false, name: 'DatabaseLockConflictError' });
      }
      for (const read of outcome.reads) {
        expect(read).toMatchObject({ ok: true });
      }
      expect(await db.waitForNoSessions()).toEqual([]);
    } finally {
      await holder.query('UNLOCK TABLES');
    }
    expect(await writtenAmong(emails)).toEqual([]);
  });

  /**
   * The writer's own row: the response is the row exactly as THIS write left it: the routine upserts
   * and reads the row in one transaction, with the row still locked, so another writer of the
   * same email cannot slip in between. Fails with upsert_user_v1.
   */
  test('each response carries its own name, and no two responses share a version', async () => {
    const email = 'contended@example.com';
    // Every environment writes ROUNDS times back to back, all at once: each write changes the
    // name, so each takes the next version, and its response must be the row it left.
    const users = (
      await Promise.all(
        writers.map(async (env, i) => {
          const mine: { expected: string; user: User }[] = [];
          for (let r = 0; r < ROUNDS; r++) {
            const name = `Writer ${i} round ${r}`;
            const { user } = await env.invoke<{ user: User }>({ email, name });
            mine.push({ expected: name, user });
          }
          return mine;
        })
      )
    ).flat();
    const foreign = users.filter(({ expected, user }) => user.name !== expected);
    expect(foreign).toEqual([]);
    const versions = users.map(({ user }) => user.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
    expect(new Set(users.map(({ user }) => user.id)).size).toBe(1);
    // The stored row is the response with the highest version.
    const [[row]] = await db.admin.query<RowDataPacket[]>(
      'SELECT name, version FROM users WHERE email = ?',
      [email]
    );
    expect(row).toEqual({
      name: users.find(({ user }) => user.version === versions.length)!.expected,
      version: versions.length,
    });
  });

  /**
   * Pagination under load (pagination.test.ts has the deterministic case): a follower polling with
   * its last `next` while every writer environment inserts new users sees each row exactly
   * once, in id order, once the inserts have settled.
   */
  test('a follower polling during 40 environments inserting sees every row exactly once', async () => {
    const [[{ start }]] = await db.admin.query<RowDataPacket[]>(
      'SELECT CAST(COALESCE(MAX(id), 0) AS CHAR) AS start FROM users'
    );
    const seen: number[] = [];
    let next: number | null = Number(start);
    let inserting = true;
    const follow = async () => {
      const page = await readers[0].invoke<{ users: User[]; next: number | null }>({
        limit: 100,
        after: next,
      });
      seen.push(...page.users.map((u) => u.id));
      next = page.next;
    };
    const follower = (async () => {
      while (inserting) {
        await follow();
      }
    })();
    await Promise.all(
      writers.map(async (env, i) => {
        for (let n = 0; n < ROUNDS; n++) {
          await env.invoke({ email: `follow-${i}-${n}@example.com`, name: 'Followed' });
        }
      })
    );
    inserting = false;
    await follower;
    const [rows] = await db.admin.query<RowDataPacket[]>(
      'SELECT id FROM users WHERE id > ? ORDER BY id',
      [start]
    );
    const all = rows.map((row) => Number(row.id));
    expect(all).toHaveLength(WRITERS * ROUNDS);
    // keep polling with the last `next` until the newest row has settled
    await pollUntil(
      async () => {
        await follow();
        return seen.length;
      },
      (n) => n >= all.length,
      { everyMs: 100 }
    );
    expect(seen).toEqual(all);
  });
});
