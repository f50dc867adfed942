/**
 * Every error a handler can reject with. Each has a stable `name` (what Lambda reports as
 * `errorType`, and what callers match on) and a message that says what to do about it.
 */

abstract class DataPathError extends Error {
  abstract readonly name: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The event is malformed. Nothing was read or written; fix the event and send it again. */
export class ValidationError extends DataPathError {
  readonly name = 'ValidationError';

  constructor(
    /** The offending field, or `event` when the event itself is not an object. */
    readonly field: string,
    problem: string
  ) {
    super(`Invalid field "${field}": ${problem}.`);
  }
}

/** The function's environment variables are missing or malformed: a deployment problem. */
export class ConfigurationError extends DataPathError {
  readonly name = 'ConfigurationError';
}

/** Secrets Manager could not be read, so no database credentials are available. */
export class CredentialsUnavailableError extends DataPathError {
  readonly name = 'CredentialsUnavailableError';
}

/** No TCP connection to the database could be made (refused, unroutable, DNS, or timed out). */
export class DatabaseUnreachableError extends DataPathError {
  readonly name = 'DatabaseUnreachableError';
}

/** The database accepted the connection but did not answer in time. */
export class DatabaseUnresponsiveError extends DataPathError {
  readonly name = 'DatabaseUnresponsiveError';
}

/** The server closed or killed the connection while a statement was running. */
export class DatabaseConnectionLostError extends DataPathError {
  readonly name = 'DatabaseConnectionLostError';
}

/** The server refused the connection because it is at `max_connections`, even after retries. */
export class TooManyConnectionsError extends DataPathError {
  readonly name = 'TooManyConnectionsError';
}

/** Every credential we know of (cached, AWSCURRENT, AWSPENDING) was denied. */
export class DatabaseAccessDeniedError extends DataPathError {
  readonly name = 'DatabaseAccessDeniedError';
}

/** Another transaction held the row past innodb_lock_wait_timeout, or a deadlock was broken. Nothing was written. */
export class DatabaseLockConflictError extends DataPathError {
  readonly name = 'DatabaseLockConflictError';
}

/** The TLS handshake failed: the server certificate is not trusted, or TLS is not offered. */
export class DatabaseTlsError extends DataPathError {
  readonly name = 'DatabaseTlsError';
}

/** Any other error the server returned for our statement. */
export class DatabaseError extends DataPathError {
  readonly name = 'DatabaseError';
}
