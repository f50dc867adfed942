import { RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { startWriterAndReader, stopWriterAndReader } from '../support/writer-and-reader';

const INT_MAX = 2147483647;
const MAX_SAFE_ID = Number.MAX_SAFE_INTEGER; // 2^53 - 1

/**
 * `id` is a JSON number (the contract), so an id above 2^53 - 1 is never handed out: the writer's
 * routine rolls back a write that would create one, and the reader refuses a row that has one.
 * `version` is an INT: at its maximum a rename is refused with a named error.
 */
describe('number limits', () => {
  let db: AppDatabase;
  let writer: LambdaEnvironment;
  let reader: LambdaEnvironment;

  beforeAll(async () => {
    ({ db, writer, reader } = await startWriterAndReader('limits'));
  });

  afterAll(async () => {
    await stopWriterAndReader({ db, writer, reader });
  });

  async function row(email: string): Promise<RowDataPacket | undefined> {
    const [rows] = await db.admin.query<RowDataPacket[]>(
      'SELECT CAST(id AS CHAR) AS id, name, version FROM users WHERE email = ?',
      [email]
    );
    return rows[0];
  }

  test('a rename at version INT max is VersionLimitError and changes nothing; a repeat still works', async () => {
    await writer.invoke({ email: 'old@example.com', name: 'Old' });
    await db.admin.query('UPDATE users SET version = ? WHERE email = ?', [
      INT_MAX,
      'old@example.com',
    ]);
    await expect(
      writer.invoke({ email: 'old@example.com', name: 'Renamed' })
    ).rejects.toMatchObject({
      name: 'VersionLimitError',
      message: expect.stringContaining('2147483647'),
    });
    expect(await row('old@example.com')).toMatchObject({ name: 'Old', version: INT_MAX });
    await expect(writer.invoke({ email: 'old@example.com', name: 'Old' })).resolves.toMatchObject({
      user: { version: INT_MAX },
    });
  });

  test('a write that would take an id above 2^53 - 1 is IdLimitError and writes nothing', async () => {
    await writer.invoke({ email: 'kept@example.com', name: 'Kept' });
    await db.admin.query(`ALTER TABLE users AUTO_INCREMENT = ${MAX_SAFE_ID + 1}`);
    await expect(writer.invoke({ email: 'new@example.com', name: 'New' })).rejects.toMatchObject({
      name: 'IdLimitError',
      message: expect.stringContaining('2^53 - 1'),
    });
    expect(await row('new@example.com')).toBeUndefined();
    // Existing users keep working: their ids are safe.
    await expect(
      writer.invoke({ email: 'kept@example.com', name: 'Kept Too' })
    ).resolves.toMatchObject({
      user: { name: 'Kept Too', version: 2 },
    });
  });

  test('a row another client gave an unsafe id is refused by the reader, never rounded', async () => {
    const unsafe = '9007199254740993'; // 2^53 + 1: as a JSON number it would read ...992
    await db.admin.query(
      "INSERT INTO users (id, email, name, created_at) VALUES (?, 'big@example.com', 'Big', NOW(6) - INTERVAL 1 HOUR)",
      [unsafe]
    );
    await expect(reader.invoke({ email: 'big@example.com' })).rejects.toMatchObject({
      name: 'IdLimitError',
      message: expect.stringContaining(unsafe),
    });
    await expect(reader.invoke({ after: MAX_SAFE_ID - 1 })).rejects.toMatchObject({
      name: 'IdLimitError',
    });
  });
});
