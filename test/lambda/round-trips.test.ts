import { RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { startWriterAndReader, stopWriterAndReader } from '../support/writer-and-reader';
import { pollUntil } from '../support/poll';
import { ServerInfo, startPrivateServer, stopPrivateServer } from '../support/private-server';

interface Cost {
  /** Statements the client sent: `Questions` minus one COM_QUIT per connection (see below). */
  statements: number;
  /** New sessions (handshakes). */
  connections: number;
  /** Commands that would each cost a round trip we refuse to pay: prepare, SET, USE, ping. */
  extraCommands: number;
}

const EXTRA_COMMANDS = [
  'Com_stmt_prepare',
  'Com_stmt_execute',
  'Com_set_option',
  'Com_change_db',
  'Com_admin_commands',
];

/**
 * A warm invocation costs the connection handshake plus ONE statement round trip: no
 * server-side prepare, no SET, no USE, no ping. Counted with the server's own status counters
 * on a server of its own, so the counts are exact (statement counts are deterministic; nothing
 * here depends on time). `Questions` counts what clients send, not what runs inside the
 * routine; MariaDB includes the COM_QUIT that ends each connection, which the client sends
 * without waiting for an answer, so it is subtracted.
 */
describe('statements per warm invocation', () => {
  let server: ServerInfo;
  let db: AppDatabase;
  let writer: LambdaEnvironment;
  let reader: LambdaEnvironment;

  beforeAll(async () => {
    server = await startPrivateServer();
    ({ db, writer, reader } = await startWriterAndReader('rtt', server));
    // Warm both environments (module load, credentials, TLS session cache).
    await writer.invoke({ email: 'warm@example.com', name: 'Warm' });
    await reader.invoke({ email: 'warm@example.com' });
  });

  afterAll(async () => {
    await stopWriterAndReader({ db, writer, reader });
    await stopPrivateServer(server);
  });

  async function counters(): Promise<Cost & { abortedClients: number }> {
    const [rows] = await db.admin.query<RowDataPacket[]>('SHOW GLOBAL STATUS');
    const value = (name: string) =>
      Number(rows.find((row) => row.Variable_name === name)?.Value ?? 0);
    return {
      statements: value('Questions'),
      connections: value('Connections'),
      extraCommands: EXTRA_COMMANDS.reduce((sum, name) => sum + value(name), 0),
      // Sessions that ended without a COM_QUIT reaching the server (socket closed first).
      abortedClients: value('Aborted_clients'),
    };
  }

  /** What `action` costs the server, minus what reading the counters itself costs. */
  async function costOf(action: () => Promise<unknown>): Promise<Cost> {
    // The previous invocation's COM_QUIT is processed by the server asynchronously: wait for
    // it, or it may be counted as a statement of this action.
    expect(await db.waitForNoSessions()).toEqual([]);
    const a = await counters();
    const b = await counters(); // SHOW GLOBAL STATUS is a statement too: measure it
    await action(); // its statement has been counted once the handler has its result
    // ... but its COM_QUIT may not have been: wait until it has, counting our own polls.
    let polls = 0;
    await pollUntil(
      () => {
        polls++;
        return db.sessions();
      },
      (sessions) => sessions.length === 0
    );
    const c = await counters();
    const delta = (key: keyof Cost | 'abortedClients') => c[key] - b[key] - (b[key] - a[key]);
    const connections = delta('connections');
    const quits = connections - delta('abortedClients');
    return {
      statements: delta('statements') - polls - quits,
      connections,
      extraCommands: delta('extraCommands'),
    };
  }

  const ONE_STATEMENT: Cost = { statements: 1, connections: 1, extraCommands: 0 };

  test('writer (insert, then update, then a repeat): one statement each', async () => {
    // The routine's own one-shot SET TRANSACTION (users-schema.ts, v3: it refuses a transaction
    // the session inherited) runs on the server and counts as Com_set_option there; it is not a
    // round trip: the client sends the one CALL (proxy-pinning.test.ts records every command).
    const ONE_CALL: Cost = { ...ONE_STATEMENT, extraCommands: 1 };
    for (const name of ['Rita', 'Rita Levi', 'Rita Levi']) {
      expect(await costOf(() => writer.invoke({ email: 'rita@example.com', name }))).toEqual(
        ONE_CALL
      );
    }
  });

  test('reader by email and list: one statement each', async () => {
    expect(await costOf(() => reader.invoke({ email: 'rita@example.com' }))).toEqual(ONE_STATEMENT);
    expect(await costOf(() => reader.invoke({ limit: 10 }))).toEqual(ONE_STATEMENT);
  });
});
