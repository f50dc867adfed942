/**
 * THE ANTI-PATTERN, kept only to show what it does. Do not copy. Never shipped, never imported
 * by lambda/ or lib/. The handler tests load it in-process (each module instance, through
 * jest.isolateModulesAsync, is one execution environment); `npm run demo` and the bench bundle
 * it as a Lambda handler.
 *
 * It opens its connection at module scope and keeps it for every invocation the execution
 * environment serves, with autocommit off (the default of several drivers and ORMs), so nothing
 * it writes is committed and its first read pins a snapshot. It reads with the shipped reader's
 * SELECT and writes with one upsert statement, as the shipped writer sends one CALL: only the
 * connection's lifetime differs.
 */
import { readFileSync } from 'node:fs';
import { Connection, ConnectionOptions, RowDataPacket, createConnection } from 'mysql2/promise';
import { USER_COLUMNS } from '../../lambda/lib/users-schema';

interface Options {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  ca?: string;
}

let options: ConnectionOptions | undefined;
let connection: Promise<Connection> | undefined; // <- the bug: outlives the invocation

/** Where to connect, in-process; a bundled handler reads DATABASE_URL and DB_TLS_CA_FILE. */
export function configure({ ca, ...rest }: Options): void {
  options = { ...rest, ssl: ca ? { ca } : undefined };
}

function fromEnvironment(): ConnectionOptions {
  const url = new URL(process.env.DATABASE_URL!);
  const ca = process.env.DB_TLS_CA_FILE;
  return {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1),
    ssl:
      url.searchParams.get('tls') === 'true'
        ? { ca: ca ? readFileSync(ca, 'utf8') : undefined }
        : undefined,
  };
}

function getConnection(): Promise<Connection> {
  connection ??= (async () => {
    const conn = await createConnection(options ?? fromEnvironment());
    await conn.query('SET autocommit = 0');
    return conn;
  })();
  return connection;
}

export async function readName(email: string): Promise<string | null> {
  const [rows] = await (
    await getConnection()
  ).query<RowDataPacket[]>(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`, [email]);
  return rows.length > 0 ? rows[0].name : null;
}

export async function writeName(email: string, name: string): Promise<void> {
  await (
    await getConnection()
  ).query(
    'INSERT INTO users (email, name) VALUES (?, ?) ON DUPLICATE KEY UPDATE name = ?, version = version + 1',
    [email, name, name]
  );
  // No COMMIT: with autocommit off the change and its row lock stay open until the environment dies.
}

/** As a Lambda handler: an event with `name` writes, one without reads. */
export async function handler(event: {
  email: string;
  name?: string;
}): Promise<{ user: { name: string } | null }> {
  if (event.name !== undefined) {
    await writeName(event.email, event.name);
    return { user: { name: event.name } };
  }
  const name = await readName(event.email);
  return { user: name === null ? null : { name } };
}

/** What freezing and reaping the environment eventually does (here, at once). */
export async function destroyEnvironment(): Promise<void> {
  const open = connection;
  connection = undefined;
  (await open?.catch(() => undefined))?.destroy();
}
