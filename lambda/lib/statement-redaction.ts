import { AccountText, toLiteral } from './sql-literals';

/**
 * Values shorter than this stay in an error's text: no secret of the stack is this short (its
 * passwords are PASSWORD_LENGTH, 30, characters; RDS refuses master passwords under 8), and
 * redacting every short value would blank words of the server's message.
 */
export const MIN_REDACTED_LENGTH = 8;

const REDACTED = '[redacted]';

/** Every way `value` can appear in a statement's text or the server's echo of it. */
function formsOf(value: unknown): string[] {
  const text = value instanceof AccountText ? value.value : typeof value === 'string' ? value : '';
  if (text.length < MIN_REDACTED_LENGTH) return [];
  const literal = toLiteral(value);
  return [
    literal,
    literal.replace(/^_utf8mb4 /, ''),
    Buffer.from(text, 'utf8').toString('hex'),
    text.replace(/'/g, "''"),
    text,
  ];
}

/**
 * Takes the statement off a driver error and every bound value off its text. mysql2 puts the
 * whole statement on a failed query's error (`err.sql`), with the values bound into it: for the
 * migration's CREATE USER / ALTER USER and rotation's password change that is the cleartext
 * password, and the data path keeps the driver error as its error's `cause`, so a fork that logs
 * whole errors would log it. The server's own message can quote the statement too (a syntax
 * error's "near '…'"). The error keeps its code, errno and the redacted message.
 */
export function redactStatement<E>(error: E, values: readonly unknown[]): E {
  if (typeof error !== 'object' || error === null) return error;
  const record = error as Record<string, unknown>;
  delete record.sql;
  const forms = values.flatMap(formsOf).sort((a, b) => b.length - a.length);
  if (forms.length === 0) return error;
  for (const key of ['message', 'sqlMessage', 'stack']) {
    const text = record[key];
    if (typeof text !== 'string') continue;
    let redacted = text;
    for (const form of forms) redacted = redacted.split(form).join(REDACTED);
    if (redacted !== text) {
      // `message` and `stack` may be non-enumerable own properties: keep them so.
      Object.defineProperty(error, key, { value: redacted, writable: true, configurable: true });
    }
  }
  return error;
}
