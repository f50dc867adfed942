import { readFileSync } from 'node:fs';
import { Connection, RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { pollUntil } from '../support/poll';
import { LambdaEnvironment } from '../support/lambda-environment';
import { adminConnect } from '../support/private-server';

type ModuleScopeHandler = typeof import('../support/module-scope-handler');
type UserResult = { user: { name: string } | null };

/**
 * Why the connection lives inside the handler. The same story is played twice: once with a
 * module-scope connection and autocommit off (the bug), once with the shipped handlers.
 *
 *   1. Environment A reads Carol.             4. Environment B renames Carol.
 *   2. A third client renames her, commits.   5. The third client renames her again.
 *   3. Environment A reads her again.         6. Look at the server's sessions.
 */
describe('a connection kept at module scope, compared with one per invocation', () => {
  let db: AppDatabase;
  let third: Connection; // another application writing to the same table
  const email = 'carol@example.com';

  beforeAll(async () => {
    db = await AppDatabase.create('bug');
    third = await adminConnect(db.server, db.database);
    // Another application, not a function: it may wait for a row lock longer than the stack's
    // 1 s server bound, and the story needs it to stay blocked until B's environment is reaped.
    await third.query('SET SESSION innodb_lock_wait_timeout = 30');
  });

  beforeEach(async () => {
    await db.admin.query('DELETE FROM users');
    await db.admin.query("INSERT INTO users (email, name) VALUES (?, 'Carol v1')", [email]);
  });

  afterAll(async () => {
    await third?.end();
    await db?.dispose();
  });

  /** Whether the third client's statement is waiting for a row lock held by someone else. */
  async function thirdClientWaitsForLock(): Promise<boolean> {
    const [rows] = await db.admin.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id = ?",
      [third.threadId]
    );
    return rows[0].n > 0;
  }

  test('module scope + autocommit off: stale reads, a blocked writer, sleeping sessions', async () => {
    const envA = await loadModuleScopeEnvironment();
    const envB = await loadModuleScopeEnvironment();
    try {
      expect(await envA.readName(email)).toBe('Carol v1'); // 1. opens A's snapshot
      await third.query("UPDATE users SET name = 'Carol v2' WHERE email = ?", [email]); // 2.
      expect(await envA.readName(email)).toBe('Carol v1'); // 3. STALE: still the old snapshot

      await envB.writeName(email, 'Carol from B'); // 4. never committed, keeps the row lock
      const blocked = thirdClientRenames('Carol v3'); // 5.
      await waitFor(thirdClientWaitsForLock, blocked); // BLOCKED behind B's open transaction

      const sessions = await db.waitForSessions(
        (s) => s.length === 2 && s.every((x) => x.command === 'Sleep')
      );
      expect(sessions.map((s) => s.command)).toEqual(['Sleep', 'Sleep']); // 6. both environments idle on the server

      // Only when B's environment is reaped does its transaction roll back and the writer proceed.
      await envB.destroyEnvironment();
      await blocked;
    } finally {
      // Also on failure: B's open transaction would otherwise block the next test's clean-up.
      await envB.destroyEnvironment();
      await envA.destroyEnvironment();
    }
  });

  test('connection per invocation: fresh reads, nobody blocked, no session left', async () => {
    const [envA, envB] = await Promise.all([
      LambdaEnvironment.start('reader', db.env('reader')),
      LambdaEnvironment.start('writer', db.env('writer')),
    ]);
    try {
      expect((await envA.invoke<UserResult>({ email })).user?.name).toBe('Carol v1'); // 1.
      await third.query("UPDATE users SET name = 'Carol v2' WHERE email = ?", [email]); // 2.
      expect((await envA.invoke<UserResult>({ email })).user?.name).toBe('Carol v2'); // 3. fresh

      await envB.invoke({ email, name: 'Carol from B' }); // 4. committed when it returns
      await third.query("UPDATE users SET name = 'Carol v3' WHERE email = ?", [email]); // 5. not blocked
      expect((await envA.invoke<UserResult>({ email })).user?.name).toBe('Carol v3');

      expect(await db.waitForNoSessions()).toEqual([]); // 6. nothing left on the server
    } finally {
      await Promise.all([envA.stop(), envB.stop()]);
    }
  });

  /**
   * The third client's UPDATE. Under a loaded test machine MariaDB has (rarely) picked this lone
   * waiter as a deadlock victim; like any real client it then re-sends the statement, which is
   * just as blocked by B's open transaction.
   */
  async function thirdClientRenames(name: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await third.query('UPDATE users SET name = ? WHERE email = ?', [name, email]);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== 'ER_LOCK_DEADLOCK' || attempt === 3) throw error;
      }
    }
  }

  /** One execution environment of the module-scope handler: a fresh module instance. */
  async function loadModuleScopeEnvironment(): Promise<ModuleScopeHandler> {
    let handler: ModuleScopeHandler | undefined;
    await jest.isolateModulesAsync(async () => {
      handler = await import('../support/module-scope-handler');
    });
    const { user, password } = db.users.writer;
    handler!.configure({
      host: db.server.host,
      port: db.server.port,
      user,
      password,
      database: db.database,
      ca: db.server.caFile ? readFileSync(db.server.caFile, 'utf8') : undefined,
    });
    return handler!;
  }
});

/** Polls `condition` (bounded); fails at once with `pending`'s error if that settles first. */
async function waitFor(
  condition: () => Promise<boolean>,
  pending: Promise<unknown>
): Promise<void> {
  let failure: unknown;
  let settled = false;
  pending.then(
    () => (settled = true),
    (error) => ((settled = true), (failure = error))
  );
  if (await pollUntil(condition, (reached) => reached || settled)) return;
  if (failure) throw failure;
  if (settled) throw new Error('the statement finished instead of waiting for the lock');
  throw new Error('condition not reached');
}
