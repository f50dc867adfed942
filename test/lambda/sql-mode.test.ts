import { RowDataPacket } from 'mysql2/promise';
import { SERVER_BOUNDS } from '../../lambda/lib/server-bounds';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { startWriterAndReader, stopWriterAndReader } from '../support/writer-and-reader';
import { ServerInfo, startPrivateServer, stopPrivateServer } from '../support/private-server';

/**
 * mysql2 escapes `?` values with backslashes, which NO_BACKSLASH_ESCAPES turns into literal
 * characters: `O\'Brien` would end the string early. The functions read the mode from the status
 * flags the server already sent (handshake, OK packets): no extra round trip, and they refuse to
 * send any statement while it is on.
 */
describe('a server whose sql_mode has NO_BACKSLASH_ESCAPES', () => {
  let server: ServerInfo;
  let db: AppDatabase;
  let writer: LambdaEnvironment;
  let reader: LambdaEnvironment;

  beforeAll(async () => {
    server = await startPrivateServer({
      sqlMode: `${SERVER_BOUNDS.sqlMode},NO_BACKSLASH_ESCAPES`,
    });
    ({ db, writer, reader } = await startWriterAndReader('sqlmode', server));
  });

  afterAll(async () => {
    await stopWriterAndReader({ db, writer, reader });
    if (server) await stopPrivateServer(server);
  });

  test('gets no statement from the functions: UnsafeSqlModeError, nothing written', async () => {
    const crafted = { email: "o'brien@example.com", name: "O\\'Brien', (SELECT 1)) -- x" };
    await expect(writer.invoke(crafted)).rejects.toMatchObject({
      name: 'UnsafeSqlModeError',
      message: expect.stringContaining('Remove NO_BACKSLASH_ESCAPES'),
    });
    await expect(reader.invoke({ email: crafted.email })).rejects.toMatchObject({
      name: 'UnsafeSqlModeError',
    });
    const [rows] = await db.admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM users');
    expect(Number(rows[0].n)).toBe(0);
    expect(await db.waitForNoSessions()).toEqual([]);
  });

  test('the shipped sql_mode does not contain it', () => {
    expect(SERVER_BOUNDS.sqlMode.split(',')).not.toContain('NO_BACKSLASH_ESCAPES');
  });
});
