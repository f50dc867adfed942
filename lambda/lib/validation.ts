import { ValidationError } from './errors';

/**
 * Event parsing for the handlers. Runs before any connection is opened, so a bad event costs
 * nothing and touches nothing. Strict on purpose: unknown fields are rejected (a typo such as
 * `emial` must not silently become a different request), and sizes are bounded to the columns.
 */

export interface WriteUserInput {
  /** Lower-cased, so `Alice@Example.com` and `alice@example.com` are one user. */
  readonly email: string;
  readonly name: string;
}

/**
 * Where a read may be answered from (lambda/lib/read-routing.ts): `strong` = the primary;
 * `eventual` = a replica, possibly stale by its lag. `minVersion` on an email read asks for
 * read-your-writes: a replica whose row has at least that version, else the primary.
 */
export type ReadConsistency = 'strong' | 'eventual';

export type ReadUsersInput =
  | {
      readonly kind: 'byEmail';
      readonly email: string;
      readonly consistency: ReadConsistency;
      readonly minVersion?: number;
    }
  | {
      readonly kind: 'list';
      readonly limit: number;
      readonly after: number | null;
      readonly consistency: ReadConsistency;
    };

export const MAX_EMAIL_LENGTH = 254; // users.email VARCHAR(254), RFC 5321 path limit
export const MAX_NAME_LENGTH = 200; // users.name VARCHAR(200), counted in code points like MySQL
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

// ASCII only: dot-atom local part (RFC 5322) and LDH host labels (RFC 1123). Keeping email to
// ASCII means no collation or Unicode-normalisation ambiguity in the unique index.
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// C0/C1 controls (NUL, newline, escape sequences...) and lone UTF-16 surrogates, which
// cannot be stored as utf8mb4.
const FORBIDDEN_IN_NAME =
  /\p{Cc}|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u;

export function parseWriteEvent(event: unknown): WriteUserInput {
  const fields = asPlainObject(event, ['email', 'name']);
  return { email: parseEmail(fields.email), name: parseName(fields.name) };
}

export function parseReadEvent(event: unknown): ReadUsersInput {
  const fields = asPlainObject(event, ['email', 'limit', 'after', 'minVersion', 'consistency']);
  const consistency = 'consistency' in fields ? parseConsistency(fields.consistency) : 'strong';
  if ('email' in fields) {
    for (const other of ['limit', 'after']) {
      if (other in fields) {
        throw new ValidationError(other, 'cannot be combined with "email"');
      }
    }
    const email = parseEmail(fields.email);
    if (!('minVersion' in fields)) {
      return { kind: 'byEmail', email, consistency };
    }
    if ('consistency' in fields) {
      throw new ValidationError(
        'consistency',
        'cannot be combined with "minVersion" (minVersion already allows a replica that has ' +
          'your write)'
      );
    }
    return { kind: 'byEmail', email, consistency, minVersion: parseMinVersion(fields.minVersion) };
  }
  if ('minVersion' in fields) {
    throw new ValidationError('minVersion', 'is only allowed with "email"');
  }
  return {
    kind: 'list',
    limit: 'limit' in fields ? parseLimit(fields.limit) : DEFAULT_PAGE_SIZE,
    after:
      fields.after === undefined || fields.after === null ? null : parseId('after', fields.after),
    consistency,
  };
}

function parseConsistency(value: unknown): ReadConsistency {
  if (value !== 'eventual') {
    throw new ValidationError(
      'consistency',
      'must be "eventual" (omit it for a strongly consistent read from the primary)'
    );
  }
  return value;
}

function parseMinVersion(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(
      'minVersion',
      'must be a positive integer: the "version" of the user the writer returned'
    );
  }
  return value;
}

function asPlainObject(event: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new ValidationError('event', 'must be a JSON object');
  }
  const proto = Object.getPrototypeOf(event);
  if (proto !== Object.prototype && proto !== null) {
    throw new ValidationError('event', 'must be a plain JSON object');
  }
  // Own keys only, including "__proto__" as JSON.parse creates it: never looked up via the chain.
  for (const key of Reflect.ownKeys(event)) {
    if (typeof key !== 'string' || !allowed.includes(key)) {
      throw new ValidationError(
        String(key),
        `is not allowed (allowed fields: ${allowed.join(', ')})`
      );
    }
  }
  return event as Record<string, unknown>;
}

function parseEmail(value: unknown): string {
  if (typeof value !== 'string') {
    throw new ValidationError('email', 'must be a string');
  }
  if (value.length > MAX_EMAIL_LENGTH) {
    throw new ValidationError('email', `must be at most ${MAX_EMAIL_LENGTH} characters`);
  }
  const at = value.lastIndexOf('@');
  const local = value.slice(0, at);
  const host = value.slice(at + 1);
  const labels = host.split('.');
  const valid =
    at > 0 &&
    local.length <= 64 &&
    LOCAL_PART.test(local) &&
    labels.length >= 2 &&
    labels.every((label) => HOST_LABEL.test(label)) &&
    !/^[0-9]+$/.test(labels[labels.length - 1]);
  if (!valid) {
    throw new ValidationError('email', 'must be an address like name@example.com (ASCII only)');
  }
  return value.toLowerCase();
}

function parseName(value: unknown): string {
  if (typeof value !== 'string') {
    throw new ValidationError('name', 'must be a string');
  }
  // Cheap bound on UTF-16 units first, so a huge string is rejected without iterating it.
  if (value.length > MAX_NAME_LENGTH * 2 || [...value].length > MAX_NAME_LENGTH) {
    throw new ValidationError('name', `must be at most ${MAX_NAME_LENGTH} characters`);
  }
  if (value.trim() === '') {
    throw new ValidationError('name', 'must not be empty');
  }
  if (value.trim() !== value) {
    throw new ValidationError('name', 'must not start or end with whitespace');
  }
  if (FORBIDDEN_IN_NAME.test(value)) {
    throw new ValidationError('name', 'must not contain control characters or invalid Unicode');
  }
  return value;
}

function parseLimit(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw new ValidationError('limit', `must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  return value;
}

function parseId(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(field, 'must be a user id (a non-negative integer) or null');
  }
  return value;
}
