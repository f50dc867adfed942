import { connect } from 'node:net';
import { RowDataPacket } from 'mysql2/promise';
import { SERVER_BOUNDS } from '../../lambda/lib/server-bounds';
import { AppDatabase } from '../support/app-database';
import { GreetingRelay, greetingStatusFlags } from '../support/greeting-relay';
import { LambdaEnvironment } from '../support/lambda-environment';
import { startWriterAndReader, stopWriterAndReader } from '../support/writer-and-reader';
import { ServerInfo, startPrivateServer, stopPrivateServer } from '../support/private-server';

// SERVER_STATUS_NO_BACKSLASH_ESCAPES in the greeting's and OK packets' status flags.
// https://dev.mysql.com/doc/dev/mysql-server/latest/mysql__com_8h.html (enum SERVER_STATUS_flags_enum)
const NO_BACKSLASH_ESCAPES = 0x200;

/** Values that mean something else when backslash escaping is read the wrong way. */
const CRAFTED = [
  { email: "o'brien@example.com", name: "O\\'Brien', (SELECT 1)) -- x" },
  { email: 'path@example.com', name: 'C:\\new\\table\\ \\\\ \\0 \\Z %_ "q" \'' },
];

/**
 * Under NO_BACKSLASH_ESCAPES a backslash is an ordinary character inside a quoted string, so
 * backslash-escaped values (mysql2's `?` escaping) end early or keep their backslashes. The
 * functions send values as hex literals, whose meaning no sql_mode changes
 * (lambda/lib/sql-literals.ts): correct whatever the server greeting claims. A relay that
 * clears the flag in the greeting stands in for RDS Proxy, whose greeting is its own.
 */
describe('a server whose sql_mode has NO_BACKSLASH_ESCAPES', () => {
  let server: ServerInfo;
  let db: AppDatabase;
  let writer: LambdaEnvironment;
  let reader: LambdaEnvironment;
  let relay: GreetingRelay;

  beforeAll(async () => {
    server = await startPrivateServer({
      sqlMode: `${SERVER_BOUNDS.sqlMode},NO_BACKSLASH_ESCAPES`,
    });
    relay = await GreetingRelay.start(server, NO_BACKSLASH_ESCAPES);
    // The environments reach the server through the relay only.
    ({ db, writer, reader } = await startWriterAndReader('sqlmode', {
      ...server,
      port: relay.port,
    }));
  });

  afterAll(async () => {
    await stopWriterAndReader({ db, writer, reader });
    await relay?.stop();
    if (server) await stopPrivateServer(server);
  });

  test('the relay hides the mode: the server greeting has the flag, the relayed one does not', async () => {
    expect(greetingStatusFlags(await firstPacket(server.port)) & NO_BACKSLASH_ESCAPES).toBe(
      NO_BACKSLASH_ESCAPES
    );
    expect(greetingStatusFlags(await firstPacket(relay.port)) & NO_BACKSLASH_ESCAPES).toBe(0);
  });

  test('values are stored and matched literally, backslashes and quotes intact', async () => {
    for (const event of CRAFTED) {
      const { user } = await writer.invoke<{ user: { name: string; version: number } }>(event);
      expect(user).toMatchObject({ name: event.name, version: 1 });
      // The same event again: found by its email, so nothing changes (idempotent).
      const again = await writer.invoke<{ user: { id: number; version: number } }>(event);
      expect(again.user.version).toBe(1);
      await expect(reader.invoke({ email: event.email })).resolves.toMatchObject({
        user: { email: event.email, name: event.name },
      });
    }
    // What the server holds, read without any escaping of ours.
    const [rows] = await db.admin.query<RowDataPacket[]>(
      'SELECT email, HEX(name) AS name FROM users ORDER BY id'
    );
    expect(rows.map((r) => [r.email, Buffer.from(r.name, 'hex').toString('utf8')])).toEqual(
      CRAFTED.map((e) => [e.email, e.name])
    );
    const { users } = await reader.invoke<{ users: { name: string }[] }>({ limit: 10 });
    expect(users.length).toBeLessThanOrEqual(CRAFTED.length); // young rows may be held back
  });

  test('the shipped sql_mode does not contain it', () => {
    expect(SERVER_BOUNDS.sqlMode.split(',')).not.toContain('NO_BACKSLASH_ESCAPES');
  });
});

/** The first packet a server sends on a new connection: its greeting. */
function firstPacket(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= 4 && data.length >= 4 + data.readUIntLE(0, 3)) {
        socket.destroy();
        resolve(data);
      }
    });
    socket.on('error', reject);
  });
}
