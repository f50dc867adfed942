import { RowDataPacket } from 'mysql2/promise';
import {
  READ_SERVER_BOUND_MS,
  STATEMENT_TIMEOUT_MS,
  WRITE_SERVER_BOUND_MS,
} from '../../lambda/lib/server-bounds';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';

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
    const database = db.inProcess('reader');
    // The server's error, not the client's DatabaseUnresponsiveError: the server stopped it first.
    await expect(database.run((c) => c.query('SELECT SLEEP(30)', []))).rejects.toMatchObject({
      name: 'DatabaseStatementTimeoutError',
    });
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
