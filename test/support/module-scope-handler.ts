/**
 * THE ANTI-PATTERN, kept only so a test can show what it does. Do not copy.
 *
 * A handler module that opens its connection at module scope and keeps it for every invocation
 * the execution environment serves, with autocommit off (the default of several drivers and
 * ORMs). Each module instance (jest.isolateModulesAsync) is one execution environment.
 */
import { Connection, RowDataPacket, createConnection } from 'mysql2/promise';

interface Options {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  ca?: string;
}

let options: Options | undefined;
let connection: Connection | undefined; // <- the bug: outlives the invocation

export function configure(value: Options): void {
  options = value;
}

async function getConnection(): Promise<Connection> {
  if (!connection) {
    const { ca, ...rest } = options!;
    connection = await createConnection({ ...rest, ssl: ca ? { ca } : undefined });
    await connection.query('SET autocommit = 0');
  }
  return connection;
}

export async function readName(email: string): Promise<string | null> {
  const [rows] = await (
    await getConnection()
  ).query<RowDataPacket[]>('SELECT name FROM users WHERE email = ?', [email]);
  return rows.length > 0 ? rows[0].name : null;
}

export async function writeName(email: string, name: string): Promise<void> {
  await (
    await getConnection()
  ).query('UPDATE users SET name = ?, version = version + 1 WHERE email = ?', [name, email]);
  // No COMMIT: with autocommit off the change and its row lock stay open until the environment dies.
}

/** What freezing and reaping the environment eventually does (here, at once). */
export async function destroyEnvironment(): Promise<void> {
  connection?.destroy();
  connection = undefined;
}
