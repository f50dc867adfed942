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

/**
 * RDS Proxy found no free database connection for the statement within its
 * `ConnectionBorrowTimeout` (9501). The statement never reached the database: nothing was
 * written, and retrying is safe.
 */
export class DatabaseProxyBorrowTimeoutError extends DataPathError {
  readonly name = 'DatabaseProxyBorrowTimeoutError';
}

/**
 * RDS Proxy refused the connection itself (its own 1040: too many client connections at once,
 * or opened too fast), before anything reached the database. Retrying is safe.
 */
export class DatabaseProxyConnectionLimitError extends DataPathError {
  readonly name = 'DatabaseProxyConnectionLimitError';
}

/**
 * The write arrived on a database session that already had a transaction open which this
 * invocation did not start (behind RDS Proxy, a pooled connection an interrupted statement left
 * in a transaction). The routine rolled that transaction back and wrote nothing: retrying is safe.
 */
export class DatabaseInheritedTransactionError extends DataPathError {
  readonly name = 'DatabaseInheritedTransactionError';
}

/** Every credential we know of (cached, AWSCURRENT, AWSPENDING) was denied. */
export class DatabaseAccessDeniedError extends DataPathError {
  readonly name = 'DatabaseAccessDeniedError';
}

/**
 * A lock wait ended on the server: a row another transaction holds (innodb_lock_wait_timeout),
 * the table's metadata lock behind DDL or LOCK TABLES (lock_wait_timeout), or a broken deadlock.
 * The statement was rolled back: nothing was written.
 */
export class DatabaseLockConflictError extends DataPathError {
  readonly name = 'DatabaseLockConflictError';
}

/**
 * The server is read-only (read_only / super_read_only, error 1290): a blue/green switchover in
 * progress, or an endpoint that names a replica. Nothing was written; retrying is safe, and
 * succeeds once the endpoint points at a writable primary.
 */
export class DatabaseReadOnlyError extends DataPathError {
  readonly name = 'DatabaseReadOnlyError';
}

/** The TLS handshake failed: the server certificate is not trusted, or TLS is not offered. */
export class DatabaseTlsError extends DataPathError {
  readonly name = 'DatabaseTlsError';
}

/** Any other error the server returned for our statement. */
export class DatabaseError extends DataPathError {
  readonly name = 'DatabaseError';
}

/** The server stopped a read at its time limit (MySQL max_execution_time). Nothing was written. */
export class DatabaseStatementTimeoutError extends DataPathError {
  readonly name = 'DatabaseStatementTimeoutError';
}

/**
 * The invocation had too little time left to wait for a statement as long as the server may
 * take, so the statement was not sent: nothing was written, and retrying is safe.
 */
export class NotEnoughTimeError extends DataPathError {
  readonly name = 'NotEnoughTimeError';

  constructor(leftMs: number, neededMs: number) {
    super(
      `Only ${Math.max(0, Math.round(leftMs))} ms of the invocation were left, less than the ` +
        `${neededMs} ms a statement may take on the server, so it was not sent: nothing was ` +
        'written and retrying is safe. If this repeats, the function timeout is too short for ' +
        'its connect and statement timeouts (see lambda/lib/server-bounds.ts).'
    );
  }
}

/**
 * A user id beyond 2^53 - 1 (Number.MAX_SAFE_INTEGER): JSON numbers cannot carry it exactly, so
 * it is never handed out. A write that would create one is rolled back.
 */
export class IdLimitError extends DataPathError {
  readonly name = 'IdLimitError';
}

/** The user's `version` is at the INT maximum: its name cannot change again. Nothing was written. */
export class VersionLimitError extends DataPathError {
  readonly name = 'VersionLimitError';
}
