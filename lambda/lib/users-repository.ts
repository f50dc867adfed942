import { SqlConnection } from './connection';
import { IdLimitError } from './errors';
import { SETTLED_AFTER_MS } from './server-bounds';
import { UPSERT_USER_PROCEDURE, USER_COLUMNS } from './users-schema';
import { ReadUsersInput, WriteUserInput } from './validation';

/** A user as the handlers return it (see DESIGN.md). */
export interface User {
  readonly id: number;
  readonly email: string;
  readonly name: string;
  readonly version: number;
  /** ISO-8601 in UTC, with the column's microseconds. */
  readonly updatedAt: string;
}

export interface UserPage {
  readonly users: User[];
  /**
   * Pass as `after` to continue: the last id of this page, or the `after` given when the page is
   * empty (null only when nothing was handed out yet). Fewer than `limit` users: caught up.
   */
  readonly next: number | null;
}

interface UserRow {
  id: number | string;
  email: string;
  name: string;
  version: number;
  updated_epoch: string;
}

/**
 * Every function here sends exactly one statement: one round trip on the connection. Values go
 * through `?` placeholders (escaped by mysql2), never into the SQL text.
 */

/** Inserts or updates the user by email and returns the stored row. */
export async function upsertUser(db: SqlConnection, input: WriteUserInput): Promise<User> {
  // CALL answers with the routine's result set followed by an OK packet.
  const [rows] = await db.query<[UserRow[], unknown]>(`CALL ${UPSERT_USER_PROCEDURE}(?, ?)`, [
    input.email,
    input.name,
  ]);
  return toUser(rows[0]);
}

export async function findUserByEmail(db: SqlConnection, email: string): Promise<User | null> {
  const rows = await db.query<UserRow[]>(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`, [
    email,
  ]);
  return rows.length > 0 ? toUser(rows[0]) : null;
}

/**
 * Keyset pagination by id that never skips a row and never returns one twice, also for rows
 * committed during the walk.
 *
 * Ids are taken when a row is inserted but become visible when it commits, in any order: a
 * reader that passed id 4 would never see id 3 committing later. So a page ends before the
 * first row younger than SETTLED_AFTER_MS (server-bounds.ts): every smaller id has committed or
 * rolled back by then, because the server bounds how long a write can take. Rows that young
 * come on a later poll. Cheap at any depth: the young rows are found through their own index.
 *
 * `next` is the id to continue after: the last row of this page, or `after` itself when the
 * page is empty (null only before the first row). A page shorter than `limit` means the walk has
 * caught up; poll again with `next` to see rows committed since.
 */
export async function listUsers(
  db: SqlConnection,
  page: { limit: number; after: number | null }
): Promise<UserPage> {
  const rows = await db.query<UserRow[]>(LIST_PAGE, listValues(page));
  return toPage(rows, page);
}

// BIGINT's maximum: no young row, no bound.
const UNBOUNDED_ID_SQL = '9223372036854775807';

/** One page of listUsers(), ordered by id; `?`s: see listValues(). */
const LIST_PAGE = `SELECT ${USER_COLUMNS} FROM users
     WHERE id > ? AND id < COALESCE(
       (SELECT MIN(id) FROM users
        WHERE created_at > NOW(6) - INTERVAL ? MICROSECOND AND id > ?),
       ${UNBOUNDED_ID_SQL})
     ORDER BY id LIMIT ?`;

function listValues(page: { limit: number; after: number | null }): unknown[] {
  const after = page.after ?? 0;
  return [after, SETTLED_AFTER_MS * 1000, after, page.limit];
}

function toPage(rows: UserRow[], page: { after: number | null }): UserPage {
  const users = rows.map(toUser);
  return { users, next: users.length > 0 ? users[users.length - 1].id : page.after };
}

/**
 * The init phase's statement (init-preparation.ts): the users columns, as every read and the
 * upsert routine return them, so mysql2 compiles and caches their row parser, with a bound value
 * like the handlers' statements, under a condition that is always false: it reads no row and
 * writes nothing, on the writer's and the reader's grants alike (SELECT on users). The server
 * opens the table (a shared metadata lock, bounded by lock_wait_timeout) and returns the column
 * definitions only.
 */
export async function prepareUsersStatement(db: SqlConnection): Promise<void> {
  await db.query<UserRow[]>(`SELECT ${USER_COLUMNS} FROM users WHERE email = ? AND FALSE`, [
    'init-preparation',
  ]);
}

export type ReadResult = { user: User | null } | UserPage;

export async function readUsers(db: SqlConnection, input: ReadUsersInput): Promise<ReadResult> {
  return input.kind === 'byEmail'
    ? { user: await findUserByEmail(db, input.email) }
    : listUsers(db, input);
}

/** A read through the primary's endpoint, and what the server that answered said about itself. */
export interface PrimaryRead {
  readonly result: ReadResult;
  /** The server was read-only when it ran the statement: it cannot be the current primary. */
  readonly serverReadOnly: boolean;
}

/**
 * Whether the server refuses writes, read in the statement itself (no extra round trip), so it
 * describes the very server that answered, also behind RDS Proxy (whose greeting is its own).
 * MySQL 8.4: `super_read_only=ON` forces `read_only=ON` (and `read_only=OFF` clears it), so
 * `read_only` covers both
 * (https://dev.mysql.com/doc/refman/8.4/en/server-system-variables.html#sysvar_super_read_only);
 * `innodb_read_only` is a server started unable to write InnoDB tables
 * (https://dev.mysql.com/doc/refman/8.4/en/innodb-parameters.html#sysvar_innodb_read_only).
 * Reading a global variable changes no session state: nothing RDS Proxy pins on. MariaDB 10.11
 * has both variables with the same meaning (it has no super_read_only).
 */
const SERVER_READ_ONLY = '(@@global.read_only OR @@global.innodb_read_only) AS server_read_only';

/**
 * readUsers() in ONE statement that also returns SERVER_READ_ONLY: the user columns are
 * LEFT JOINed to a one-row table, so the flag arrives even when no user matches (a null user
 * or an empty page from a stale server is as stale as an old row).
 */
export async function readUsersOnPrimary(
  db: SqlConnection,
  input: ReadUsersInput
): Promise<PrimaryRead> {
  // id is null in the one row of a LEFT JOIN that found no user.
  type Row = Omit<UserRow, 'id'> & { id: UserRow['id'] | null; server_read_only: number | string };
  const found = (row: Row): row is Row & UserRow => row.id !== null;
  const serverReadOnly = (rows: Row[]) => Number(rows[0].server_read_only) !== 0;
  if (input.kind === 'byEmail') {
    const rows = await db.query<Row[]>(
      `SELECT ${USER_COLUMNS}, ${SERVER_READ_ONLY}
       FROM (SELECT 1 AS one) AS probe LEFT JOIN users ON users.email = ?`,
      [input.email]
    );
    const user = found(rows[0]) ? toUser(rows[0]) : null;
    return { result: { user }, serverReadOnly: serverReadOnly(rows) };
  }
  const rows = await db.query<Row[]>(
    `SELECT page.*, ${SERVER_READ_ONLY}
     FROM (SELECT 1 AS one) AS probe LEFT JOIN (${LIST_PAGE}) AS page ON TRUE
     ORDER BY page.id`,
    listValues(input)
  );
  const users = rows.filter(found);
  return { result: toPage(users, input), serverReadOnly: serverReadOnly(rows) };
}

function toUser(row: UserRow): User {
  return {
    id: toSafeId(row.id),
    email: row.email,
    name: row.name,
    version: Number(row.version),
    updatedAt: epochToIso(row.updated_epoch),
  };
}

/**
 * The id as a JSON number, or IdLimitError when a number cannot carry it exactly (above 2^53 - 1,
 * e.g. a row inserted by another client). mysql2 hands BIGINTs over as strings (connection.ts),
 * so nothing was rounded on the way.
 */
function toSafeId(value: number | string): number {
  const id = Number(value);
  if (!Number.isSafeInteger(id)) {
    throw new IdLimitError(
      `User id ${String(value)} is above 2^53 - 1, the largest id a JSON number carries exactly, ` +
        'so it is not returned. Renumber that row (it was not written by the writer function, ' +
        'which refuses such ids); see the README ("Number limits").'
    );
  }
  return id;
}

/**
 * UNIX_TIMESTAMP() of a TIMESTAMP column is the stored UTC instant whatever the session's
 * time_zone, so no `SET time_zone` round trip is needed. "1700000000.123456" becomes
 * "2023-11-14T22:13:20.123456Z".
 */
export function epochToIso(epoch: string | number): string {
  const [seconds, fraction = ''] = String(epoch).split('.');
  const iso = new Date(Number(seconds) * 1000).toISOString(); // ...T22:13:20.000Z
  return `${iso.slice(0, 19)}.${fraction.padEnd(6, '0').slice(0, 6)}Z`;
}
