import { RowDataPacket } from 'mysql2/promise';
import { SETTLED_AFTER_MS } from '../../lambda/lib/server-bounds';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { startWriterAndReader, stopWriterAndReader } from '../support/writer-and-reader';
import { pollUntil } from '../support/poll';
import { adminConnect } from '../support/private-server';

interface Page {
  users: { id: number; email: string }[];
  next: number | null;
}

/**
 * The list's guarantee (docs/data-path.md): following `next` never skips a
 * row and never returns one twice, including rows committed during the walk, because a page
 * ends before the first row younger than SETTLED_AFTER_MS; and a walk started that long after a
 * write returns it.
 */
describe('walking the user list', () => {
  let db: AppDatabase;
  let reader: LambdaEnvironment;
  let writer: LambdaEnvironment;
  const read = (after: number | null, limit = 3) => reader.invoke<Page>({ limit, after });

  beforeAll(async () => {
    ({ db, writer, reader } = await startWriterAndReader('pages'));
  });

  afterAll(async () => {
    await stopWriterAndReader({ db, writer, reader });
  });

  beforeEach(async () => {
    await db.admin.query('DELETE FROM users');
  });

  /** Rows created long enough ago to be settled. */
  async function insertSettled(count: number): Promise<number[]> {
    for (let i = 0; i < count; i++) {
      await db.admin.query(
        'INSERT INTO users (email, name, created_at) VALUES (?, ?, NOW(6) - INTERVAL 1 HOUR)',
        [`old${i}@example.com`, `Old ${i}`]
      );
    }
    const [rows] = await db.admin.query<RowDataPacket[]>('SELECT id FROM users ORDER BY id');
    return rows.map((row) => Number(row.id));
  }

  test('settled rows come in id order, each once; `next` is the cursor to poll with', async () => {
    const ids = await insertSettled(7);
    const seen: number[] = [];
    let after: number | null = null;
    let page: Page;
    do {
      page = await read(after);
      seen.push(...page.users.map((u) => u.id));
      after = page.next;
    } while (page.users.length === 3);
    expect(seen).toEqual(ids);
    expect(after).toBe(ids[ids.length - 1]);
    // caught up: polling again returns nothing new and keeps the cursor
    expect(await read(after)).toEqual({ users: [], next: after, servedBy: 'primary' });
    expect(await read(null)).toMatchObject({ next: ids[2] });
  });

  test('a row that takes its id first but commits after a later row is seen once, within seconds', async () => {
    const [settled] = await insertSettled(1);
    // GIVEN an insert that took the next id and has not committed yet
    const late = await adminConnect(db.server, db.database);
    try {
      await late.query('START TRANSACTION');
      await late.query("INSERT INTO users (email, name) VALUES ('late@example.com', 'Late')");
      // ... and a write after it that commits at once, with a larger id
      const { user: quick } = await writer.invoke<{ user: { id: number } }>({
        email: 'quick@example.com',
        name: 'Quick',
      });
      const wrote = Date.now();
      // WHEN a follower reads now, then the early insert commits
      const first = await read(null, 10);
      await late.query('COMMIT');

      // THEN the first page did not pass the uncommitted id ...
      expect(first.users.map((u) => u.id)).toEqual([settled]);
      // ... and polling with the last `next` sees every row exactly once
      const seen = first.users.map((u) => u.id);
      let next = first.next;
      const all = await pollUntil(
        async () => {
          const page = await read(next, 10);
          seen.push(...page.users.map((u) => u.id));
          next = page.next;
          return seen;
        },
        (ids) => ids.length >= 3,
        { everyMs: 100 }
      );
      const [[lateRow]] = await db.admin.query<RowDataPacket[]>(
        "SELECT id FROM users WHERE email = 'late@example.com'"
      );
      expect(Number(lateRow.id)).toBeLessThan(quick.id);
      expect(all).toEqual([settled, Number(lateRow.id), quick.id]);
      // ... within a few seconds of the write: a walk started now returns it too
      expect(Date.now() - wrote).toBeLessThan(SETTLED_AFTER_MS + 3000);
      expect((await read(null, 10)).users.map((u) => u.id)).toEqual(all);
    } finally {
      await late.end();
    }
  });
});
