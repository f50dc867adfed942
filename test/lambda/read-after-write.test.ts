import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';

type UserResult = { user: { id: number; email: string; name: string; version: number } | null };

/**
 * Two reader environments and one writer environment (separate processes that keep module
 * scope between invocations, like warm Lambda environments), plus a third client writing with
 * plain SQL. Every read must see every write committed before it started.
 */
describe('reads after writes across execution environments', () => {
  let db: AppDatabase;
  let readerA: LambdaEnvironment;
  let readerB: LambdaEnvironment;
  let writer: LambdaEnvironment;

  beforeAll(async () => {
    db = await AppDatabase.create('raw');
    [readerA, readerB, writer] = await Promise.all([
      LambdaEnvironment.start('reader', db.env('reader')),
      LambdaEnvironment.start('reader', db.env('reader')),
      LambdaEnvironment.start('writer', db.env('writer')),
    ]);
  });

  afterAll(async () => {
    await Promise.all([readerA?.stop(), readerB?.stop(), writer?.stop()]);
    await db?.dispose();
  });

  test('every read sees the latest committed write, whoever wrote it', async () => {
    const stale: string[] = [];
    for (let round = 1; round <= 10; round++) {
      const email = `round${round}@example.com`;
      // Both environments read first (a module-scope connection would pin its snapshot here).
      for (const env of [readerA, readerB]) {
        const before = await env.invoke<UserResult>({ email });
        if (before.user !== null) stale.push(`round ${round}: row visible before it was written`);
      }
      // Odd rounds: the third client writes; even rounds: the writer function.
      if (round % 2 === 1) {
        await db.admin.query('INSERT INTO users (email, name) VALUES (?, ?)', [
          email,
          `third ${round}`,
        ]);
      } else {
        await writer.invoke({ email, name: `writer ${round}` });
      }
      for (const [label, env] of [
        ['A', readerA],
        ['B', readerB],
      ] as const) {
        const after = await env.invoke<UserResult>({ email });
        if (after.user === null)
          stale.push(`round ${round}: environment ${label} missed the insert`);
      }
      // An update by the third client must be visible too, not just inserts.
      await db.admin.query('UPDATE users SET name = ?, version = version + 1 WHERE email = ?', [
        `renamed ${round}`,
        email,
      ]);
      for (const [label, env] of [
        ['A', readerA],
        ['B', readerB],
      ] as const) {
        const after = await env.invoke<UserResult>({ email });
        if (after.user?.name !== `renamed ${round}`)
          stale.push(`round ${round}: environment ${label} read "${after.user?.name}"`);
      }
    }
    expect(stale).toEqual([]);
    expect(await db.waitForNoSessions()).toEqual([]);
  });
});
