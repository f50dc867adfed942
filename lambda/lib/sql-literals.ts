/**
 * Puts `?` values into a statement as literals whose meaning does not depend on the session's
 * sql_mode, so the data path is safe whatever the server greeting says. Behind RDS Proxy the
 * greeting (and its SERVER_STATUS_NO_BACKSLASH_ESCAPES flag) is the proxy's, not the database
 * session's, and asking the session costs a round trip.
 *
 * - A string becomes `_utf8mb4 X'<hex of its UTF-8 bytes>'`. A hexadecimal literal has no escape
 *   sequences, so NO_BACKSLASH_ESCAPES (which only changes how `\` is read inside quoted strings)
 *   cannot change it, and the introducer makes it a utf8mb4 string rather than a binary one,
 *   whatever character_set_client or character_set_connection the session has. Its collation is
 *   utf8mb4's default; where it meets a column or routine parameter, theirs wins (a literal is
 *   the most coercible operand).
 *   https://dev.mysql.com/doc/refman/8.4/en/hexadecimal-literals.html (11.1.4)
 *   https://dev.mysql.com/doc/refman/8.4/en/charset-introducer.html (12.3.8)
 *   https://dev.mysql.com/doc/refman/8.4/en/charset-collation-coercibility.html (12.8.4)
 *   https://dev.mysql.com/doc/refman/8.4/en/sql-mode.html#sqlmode_no_backslash_escapes
 * - A number must be a safe integer and is written in decimal; null is NULL. Nothing else is
 *   accepted: a value of another type is a programming error, refused before anything is sent.
 * - `accountText(value)` (account names and passwords, where MySQL's grammar takes only a quoted
 *   string) is written in single quotes with `'` doubled, which reads the same with and without
 *   NO_BACKSLASH_ESCAPES; a backslash or control character, whose reading differs, is refused.
 *
 * The text protocol stays: a server-side prepared statement (COM_STMT_PREPARE / EXECUTE) would
 * pin an RDS Proxy session and cost a round trip on every fresh connection.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-pinning.html
 */

/** A string for a place where MySQL takes only a quoted string literal (account name, password). */
export class AccountText {
  constructor(readonly value: string) {}
}

/** Marks `value` to be written as a quoted string (see AccountText). */
export function accountText(value: string): AccountText {
  return new AccountText(value);
}

export type SqlValue = string | number | null | AccountText;

/** Replaces each `?` of `sql` with the next value, as a literal (see the file comment). */
export function bindValues(sql: string, values: readonly unknown[]): string {
  const parts = sql.split('?');
  if (parts.length - 1 !== values.length) {
    throw new TypeError(
      `The statement has ${parts.length - 1} placeholders but ${values.length} values were given.`
    );
  }
  return parts.reduce((text, part, i) => text + toLiteral(values[i - 1]) + part);
}

/** One value as an SQL literal that reads the same under every sql_mode. */
export function toLiteral(value: unknown): string {
  if (typeof value === 'string') {
    return `_utf8mb4 X'${Buffer.from(value, 'utf8').toString('hex')}'`;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    return String(value);
  }
  if (value === null) {
    return 'NULL';
  }
  if (value instanceof AccountText) {
    if (/[\\\u0000-\u001f\u007f]/.test(value.value)) {
      throw new TypeError(
        'An account name or password contains a backslash or a control character, which ' +
          "MySQL reads differently with and without sql_mode NO_BACKSLASH_ESCAPES. Use one without (the stack's " +
          'generated secrets exclude the backslash).'
      );
    }
    return `'${value.value.replace(/'/g, "''")}'`;
  }
  throw new TypeError(`Cannot send a value of type ${typeof value} as an SQL literal.`);
}
