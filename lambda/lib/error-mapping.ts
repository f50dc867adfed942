import { DbCredentials } from './config';
import { ConnectionFailure } from './connection';
import {
  ConfigurationError,
  DatabaseConnectionLostError,
  DatabaseError,
  DatabaseInheritedTransactionError,
  DatabaseProxyBorrowTimeoutError,
  DatabaseProxyConnectionLimitError,
  DatabaseReadOnlyError,
  DatabaseLockConflictError,
  DatabaseStatementTimeoutError,
  DatabaseTlsError,
  DatabaseUnreachableError,
  DatabaseUnresponsiveError,
  IdLimitError,
  TooManyConnectionsError,
  VersionLimitError,
} from './errors';

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
// Only what MySQL 8.4 sends over the classic protocol, or the socket reports. KILL CONNECTION
// shuts the session's socket down (THD::awake, sql/sql_class.cc): the client sees the connection
// lost (mysql2's PROTOCOL_CONNECTION_LOST, libmysql's 2013), on MySQL and on MariaDB 10.11 alike
// (checked); the session's own error for it is ER_SERVER_SHUTDOWN (THD::killed_state,
// sql/sql_class.h). Not listed: MariaDB's ER_CONNECTION_KILLED (1927), which MySQL has no such
// number for and mysql2 has no name for, and ER_SESSION_WAS_KILLED (3169), which MySQL sends
// to X Protocol and internal sessions only.
const CONNECTION_LOST = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'ECONNRESET',
  'EPIPE',
  'ER_QUERY_INTERRUPTED', // 1317: KILL QUERY
  'ER_SERVER_SHUTDOWN', // 1053: the server shutting down, or the session killed
  'ER_CLIENT_INTERACTION_TIMEOUT', // 4031, MySQL 8.0.24+: wait_timeout closed the session
]);
const TLS_REFUSED = new Set([
  'HANDSHAKE_NO_SSL_SUPPORT',
  'HANDSHAKE_SSL_ERROR', // mysql2's wrapper for a failed certificate check
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

// mysql2 renames every error of the TLS handshake HANDSHAKE_SSL_ERROR. A socket the server (or
// the network) closed meanwhile is a lost connection, not a certificate we refused: Node's error
// for it names a system call ("read ECONNRESET") or the disconnect itself.
const TLS_HANDSHAKE_INTERRUPTED =
  /disconnected before secure TLS|ECONNRESET|EPIPE|ETIMEDOUT|socket hang up/;

function isLostDuringTlsHandshake(failure: ConnectionFailure): boolean {
  return (
    failure.code === 'HANDSHAKE_SSL_ERROR' &&
    ('syscall' in failure || TLS_HANDSHAKE_INTERRUPTED.test(failure.message))
  );
}

/**
 * RDS Proxy's own errors (rds-proxy.troubleshooting.html, RDS for MySQL): 9501 when no database
 * connection frees up within ConnectionBorrowTimeout, and 1040 (the server's "too many
 * connections" number) with texts of its own when client connections to the proxy are too many
 * at once or come too fast. mysql2 has no name for 9501, so it is matched by number.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.troubleshooting.html
 */
const PROXY_BORROW_TIMEOUT = 9501;
const PROXY_CONNECTION_LIMIT =
  /^(Number simultaneous connections exceeded|Connections rate limit exceeded)/;

/**
 * 1568 ER_CANT_CHANGE_TX_CHARACTERISTICS: the writer's routine (users-schema.ts, v3) found a
 * transaction already open on its session, rolled it back and wrote nothing.
 */
const INHERITED_TRANSACTION = 1568;

const MYSQL_QUERY_TIMEOUT = 3024; // MySQL: max_execution_time exceeded (ER_QUERY_TIMEOUT)
const MARIADB_STATEMENT_TIMEOUT = 1969; // MariaDB: max_statement_time exceeded

/** Where the routine (users-schema.ts) names the limit a write ran into. */
export const ID_LIMIT_MESSAGE = 'users.id limit';
export const VERSION_LIMIT_MESSAGE = 'users.version limit';

export function isAccessDenied(error: unknown): boolean {
  return (error as ConnectionFailure)?.code === 'ER_ACCESS_DENIED_ERROR';
}

/**
 * Whether no database answered at the configured host and port: refused, unroutable, unknown
 * name, or no handshake in time. Settings from a secret that fail like this may be stale.
 */
export function isUnreachable(error: unknown): boolean {
  const failure = error as ConnectionFailure;
  const code = failure?.code ?? '';
  return (
    UNREACHABLE.has(code) ||
    (failure?.phase === 'connect' && (code === 'ETIMEDOUT' || code === 'PROTOCOL_SEQUENCE_TIMEOUT'))
  );
}

/**
 * Whether the server refused the connection's default database: 1049 ER_BAD_DB_ERROR (it does
 * not exist, said to users with privileges to see that) or 1044 ER_DBACCESS_DENIED_ERROR (no
 * grant on it; MySQL also says this for a database that does not exist). Both come at login.
 * https://dev.mysql.com/doc/mysql-errors/8.4/en/server-error-reference.html
 */
function isDatabaseRefused(code: string): boolean {
  return code === 'ER_BAD_DB_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR';
}

export function isTooManyConnections(error: unknown): boolean {
  return (error as ConnectionFailure)?.code === 'ER_CON_COUNT_ERROR';
}

/** Turns a driver or socket error into one of our named errors, with advice. */
export function toDataPathError(
  error: unknown,
  target: Pick<DbCredentials, 'host' | 'port'> & Partial<Pick<DbCredentials, 'user' | 'database'>>
): Error {
  // Duck-typed, not instanceof: Node's socket errors come from another realm under jest's vm.
  if (typeof error !== 'object' || error === null || !('code' in error || 'errno' in error)) {
    return error instanceof Error ? error : new Error(String(error));
  }
  const failure = error as ConnectionFailure;
  const code = failure.code ?? '';
  const where = `${target.host}:${target.port}`;
  const detail = `${code}: ${failure.sqlMessage ?? failure.message}`;
  const cause = { cause: error };

  // Unreachable only while connecting: the same codes on a connection that was running a
  // statement (a host that vanished mid-write) leave the outcome unknown: a lost connection.
  if (
    (UNREACHABLE.has(code) && failure.phase !== 'query') ||
    (code === 'ETIMEDOUT' && !failure.tcpConnected)
  ) {
    return new DatabaseUnreachableError(
      `Cannot reach the database at ${where} (${detail}). No statement was sent, so nothing ` +
        'was written and retrying is safe: during a failover or switchover the next ' +
        'invocation resolves the endpoint again and reaches the new primary. If it persists, ' +
        "check the endpoint, that the instance is running, and that its security group admits this function's.",
      cause
    );
  }
  if (code === 'ETIMEDOUT' || code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
    const query = failure.phase === 'query';
    return new DatabaseUnresponsiveError(
      `The database at ${where} accepted the connection but did not ` +
        `${query ? 'answer the statement' : 'complete the handshake'} within ${failure.timeoutMs} ms. ` +
        'It may be overloaded or blocked on locks; check its CPU, connections and long-running ' +
        'transactions, then retry' +
        (query
          ? ' (the outcome of a write is unknown: the server may still commit it after this ' +
            'error; the write is an idempotent upsert, so retrying the same event is safe).'
          : '.'),
      cause
    );
  }
  if (CONNECTION_LOST.has(code) || UNREACHABLE.has(code) || isLostDuringTlsHandshake(failure)) {
    const sent = failure.phase === 'query';
    return new DatabaseConnectionLostError(
      `The database at ${where} ${code === 'ER_QUERY_INTERRUPTED' ? 'interrupted the statement' : 'closed the connection'} ` +
        `during the request (${detail}). ` +
        (sent
          ? 'The outcome is unknown: a write commits in full or not at all (one transaction), ' +
            'and the server may have committed it before the statement ended. Writes are ' +
            'idempotent upserts, so retrying the same event is safe; a read can be retried as is.'
          : 'Nothing was sent yet, so retrying the same event is safe.'),
      cause
    );
  }
  if (failure.errno === PROXY_BORROW_TIMEOUT) {
    return new DatabaseProxyBorrowTimeoutError(
      `The RDS Proxy at ${where} found no free database connection within its ` +
        `ConnectionBorrowTimeout (${detail}). The statement never reached the database: ` +
        'nothing was written, and retrying is safe. If it repeats, the pool is too small for ' +
        "the load or its connections are held: look at the proxy's CloudWatch metrics " +
        '(DatabaseConnectionsBorrowLatency, DatabaseConnectionsCurrentlyBorrowed, ' +
        'DatabaseConnectionsCurrentlySessionPinned), its MaxConnectionsPercent (the pool, a ' +
        'share of max_connections) and ConnectionBorrowTimeout (its allowance in the ' +
        "functions' statement timeout: PROXY_BORROW_TIMEOUT_MS, lambda/lib/server-bounds.ts).",
      cause
    );
  }
  if (failure.errno === INHERITED_TRANSACTION) {
    return new DatabaseInheritedTransactionError(
      `The write arrived on a database session at ${where} that already had a transaction ` +
        `open which this invocation did not start (${detail}). Behind RDS Proxy that is a ` +
        'pooled connection an interrupted statement left in a transaction; directly, a client ' +
        'that called the routine inside its own transaction. The routine rolled that ' +
        'transaction back and wrote nothing, so retrying is safe.',
      cause
    );
  }
  if (
    TLS_REFUSED.has(code) ||
    code.startsWith('ERR_SSL') ||
    code === 'ER_SECURE_TRANSPORT_REQUIRED'
  ) {
    return new DatabaseTlsError(
      `TLS to the database at ${where} failed (${detail}). The server certificate must chain to ` +
        'the Amazon RDS CA bundle (only the root of DB_CA_TYPE for AWS_REGION when both are ' +
        'set), or to DB_TLS_CA_FILE, and match the host name; ' +
        'DATABASE_URL needs ?tls=true when the server requires TLS.',
      cause
    );
  }
  if (isDatabaseRefused(code)) {
    return new ConfigurationError(
      `The database at ${where} refused database "${target.database ?? ''}" to user ` +
        `"${target.user ?? ''}" (${detail}). The secret's dbname (or the path of DATABASE_URL) ` +
        'must name the schema the migration created, and the user needs its grants (the ' +
        "deploy's migration custom resource, or npm run db:migrate and the user's GRANTs).",
      cause
    );
  }
  if (code === 'ER_OPTION_PREVENTS_STATEMENT') {
    // 1290 for a write is read_only / super_read_only: an RDS blue/green switchover sets the old
    // primary read-only before it moves the endpoint; a replica is read-only too.
    return new DatabaseReadOnlyError(
      `The database at ${where} is read-only and refused the write (${detail}): a blue/green ` +
        'switchover in progress, or the endpoint names a read replica. Nothing was written; ' +
        'retry: once the switchover has moved the endpoint to the new primary (usually within ' +
        'a minute), the next invocation succeeds. If it persists, check that the secret or ' +
        'DATABASE_URL names the writer endpoint.',
      cause
    );
  }
  if (code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'ER_LOCK_DEADLOCK') {
    return new DatabaseLockConflictError(
      `The database at ${where} gave up waiting for a lock (${detail}): a row another ` +
        "transaction holds, or the table's metadata lock behind DDL (ALTER TABLE) or LOCK " +
        'TABLES. The statement was rolled back, so nothing was written and retrying is safe; if ' +
        'it keeps happening, look for long-running transactions (information_schema.INNODB_TRX) ' +
        'and sessions "Waiting for table metadata lock" (SHOW PROCESSLIST).',
      cause
    );
  }
  if (
    code === 'ER_QUERY_TIMEOUT' ||
    [MYSQL_QUERY_TIMEOUT, MARIADB_STATEMENT_TIMEOUT].includes(failure.errno ?? 0)
  ) {
    return new DatabaseStatementTimeoutError(
      `The database at ${where} stopped the statement at its time limit (${detail}; ` +
        'max_execution_time in the parameter group). Nothing was written; retry, and if it ' +
        'repeats look for what slows the server (CPU, I/O, the slow query log).',
      cause
    );
  }
  if (failure.sqlMessage?.startsWith(ID_LIMIT_MESSAGE)) {
    return new IdLimitError(
      `The next user id would exceed 2^53 - 1, the largest id a JSON number carries exactly ` +
        `(${detail}). Nothing was written. The id space of this table is used up for the ` +
        'functions: archive or renumber users, see the README ("Number limits").',
      cause
    );
  }
  if (failure.sqlMessage?.startsWith(VERSION_LIMIT_MESSAGE)) {
    return new VersionLimitError(
      `This user's version is at its maximum, 2147483647, so its name cannot change again ` +
        `(${detail}). Nothing was written; an operator must reset the version (README, ` +
        '"Number limits").',
      cause
    );
  }
  if (code === 'ER_CON_COUNT_ERROR' && PROXY_CONNECTION_LIMIT.test(failure.sqlMessage ?? '')) {
    return new DatabaseProxyConnectionLimitError(
      `The RDS Proxy at ${where} refused the connection (${detail}): too many client ` +
        "connections to the proxy at once, or opened too fast, even after this invocation's " +
        'capped retries. Nothing reached the database, so retrying is safe. Look at the ' +
        "proxy's CloudWatch metrics (ClientConnections, ClientConnectionsReceived) against " +
        "the functions' reserved concurrency, which bounds how many connect at once.",
      cause
    );
  }
  if (code === 'ER_CON_COUNT_ERROR') {
    return new TooManyConnectionsError(
      `The database at ${where} is at max_connections (${detail}) and no slot freed up within ` +
        "this invocation's connection attempts (capped, with backoff). Nothing was sent. Lower " +
        "the functions' reserved concurrency or raise the " +
        'connection budget; check DatabaseConnections for leaked sessions.',
      cause
    );
  }
  return new DatabaseError(`The database at ${where} rejected the request (${detail}).`, cause);
}
