/**
 * THE ANTI-PATTERN. Demo only: `npm run demo` runs it next to the shipped handlers to show what
 * it does. Never shipped, never imported by lambda/ or lib/. Do not copy.
 *
 * One handler for both roles (an event with `name` writes, without reads), with the two
 * mistakes DESIGN.md describes: the connection is opened at module scope and kept for every
 * invocation the execution environment serves, and autocommit is off (the default of several
 * drivers and ORMs), so nothing it writes is committed and its first read pins a snapshot.
 * The SQL is the shipped SQL (same SELECT, the routine's v1), only the connection's lifetime
 * differs. v1, because v2 runs its own transaction, whose START TRANSACTION would commit the
 * open one and hide the mistake.
 */
import { readFileSync } from 'node:fs';
import { Connection, RowDataPacket, createConnection } from 'mysql2/promise';
import { UPSERT_USER_PROCEDURE_V1, USER_COLUMNS } from '../../lambda/lib/users-schema';

let connection: Promise<Connection> | undefined; // <- the bug: outlives the invocation

function getConnection(): Promise<Connection> {
  connection ??= (async () => {
    const url = new URL(process.env.DATABASE_URL!);
    const ca = process.env.DB_TLS_CA_FILE;
    const conn = await createConnection({
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: url.pathname.slice(1),
      ssl:
        url.searchParams.get('tls') === 'true'
          ? { ca: ca ? readFileSync(ca, 'utf8') : undefined }
          : undefined,
    });
    await conn.query('SET autocommit = 0');
    return conn;
  })();
  return connection;
}

interface Row {
  id: number;
  email: string;
  name: string;
  version: number;
}

export async function handler(event: {
  email: string;
  name?: string;
}): Promise<{ user: Row | null }> {
  const conn = await getConnection();
  if (event.name !== undefined) {
    const [result] = await conn.query<RowDataPacket[][]>(`CALL ${UPSERT_USER_PROCEDURE_V1}(?, ?)`, [
      event.email,
      event.name,
    ]);
    return { user: toRow(result[0][0]) };
    // No COMMIT: the change and its row lock stay open until the environment dies.
  }
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT ${USER_COLUMNS} FROM users WHERE email = ?`,
    [event.email]
  );
  return { user: rows.length > 0 ? toRow(rows[0]) : null };
}

function toRow(row: RowDataPacket | undefined): Row | null {
  return row
    ? { id: Number(row.id), email: row.email, name: row.name, version: Number(row.version) }
    : null;
}
