import { SqlConnection } from './connection';
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
  /** Pass as `after` to get the next page; null on the last page. */
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

/** Keyset pagination by id: stable under concurrent inserts, and cheap at any depth. */
export async function listUsers(
  db: SqlConnection,
  page: { limit: number; after: number | null }
): Promise<UserPage> {
  // One extra row tells whether another page exists without a COUNT round trip.
  const rows = await db.query<UserRow[]>(
    `SELECT ${USER_COLUMNS} FROM users WHERE id > ? ORDER BY id LIMIT ?`,
    [page.after ?? 0, page.limit + 1]
  );
  const users = rows.slice(0, page.limit).map(toUser);
  return { users, next: rows.length > page.limit ? users[users.length - 1].id : null };
}

export type ReadResult = { user: User | null } | UserPage;

export async function readUsers(db: SqlConnection, input: ReadUsersInput): Promise<ReadResult> {
  return input.kind === 'byEmail'
    ? { user: await findUserByEmail(db, input.email) }
    : listUsers(db, input);
}

function toUser(row: UserRow): User {
  return {
    id: Number(row.id),
    email: row.email,
    name: row.name,
    version: Number(row.version),
    updatedAt: epochToIso(row.updated_epoch),
  };
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
