/**
 * How long a function's statement may wait or run on the server, and the client timeouts derived
 * from it: the ONE place where the relation
 *
 *     server bounds  <  client statement timeout  <  remaining Lambda time
 *
 * is stated. lib/database.ts puts SERVER_BOUNDS into the RDS parameter group; the test server
 * (test/support/private-server.ts) is started with the same values, so tests run with what ships.
 *
 * Why: a client that gives up on a statement only drops its socket. The server does not notice
 * until the statement ends, so a write stuck behind a lock would still commit after the caller
 * was told it failed, and its session would hold a connection slot meanwhile. Every wait a
 * function's statement can meet therefore ends ON THE SERVER, with a named error, before the
 * client's timeout fires; and the client never starts a statement it has no time to wait for.
 *
 * Parameter names and units (RDS for MySQL 8.4; all four are modifiable in a DB parameter group,
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.MySQL.Parameters.html):
 * https://dev.mysql.com/doc/refman/8.4/en/server-system-variables.html#sysvar_lock_wait_timeout
 * https://dev.mysql.com/doc/refman/8.4/en/innodb-parameters.html#sysvar_innodb_lock_wait_timeout
 * https://dev.mysql.com/doc/refman/8.4/en/server-system-variables.html#sysvar_max_execution_time
 * https://dev.mysql.com/doc/refman/8.4/en/server-system-variables.html#sysvar_sql_mode
 */
export const SERVER_BOUNDS = {
  /**
   * `lock_wait_timeout` (seconds): waits for a METADATA lock, e.g. behind a queued
   * `ALTER TABLE` or a `LOCK TABLES`. MySQL's default is a year (31536000).
   */
  lockWaitTimeoutSeconds: 1,
  /** `innodb_lock_wait_timeout` (seconds): waits for a ROW lock another transaction holds. */
  innodbLockWaitTimeoutSeconds: 1,
  /**
   * `max_execution_time` (milliseconds): MySQL stops a read-only top-level SELECT after this
   * (https://dev.mysql.com/blog-archive/server-side-select-statement-timeouts/).
   * It does not apply to writes or to statements inside routines: those are bounded by the lock
   * waits above (a single-row upsert does no other waiting). MariaDB's nearest,
   * `max_statement_time` (seconds), stops every statement, so the test server sets it on the
   * reader's account only (test/support/private-server.ts, docs/mysql-and-mariadb.md).
   */
  maxExecutionTimeMs: 2000,
  /**
   * `sql_mode`, pinned: MySQL 8.4's default, spelled out. The functions do not depend on it
   * (values go as hex literals, sql-literals.ts), but backslash-escaping clients such as the
   * tests' admin connections and other tools do: NO_BACKSLASH_ESCAPES stays out.
   */
  sqlMode:
    'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,' +
    'ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION',
} as const;

const L = SERVER_BOUNDS.lockWaitTimeoutSeconds * 1000;
const I = SERVER_BOUNDS.innodbLockWaitTimeoutSeconds * 1000;

/**
 * The longest the writer's `CALL upsert_user_v3` can wait on the server: the routine's metadata
 * lock, the table's metadata lock (both `lock_wait_timeout`), and up to two row-lock waits
 * (`innodb_lock_wait_timeout`; an upsert may wait for the gap and then for the duplicate row).
 */
export const WRITE_SERVER_BOUND_MS = 2 * L + 2 * I;

/** The longest a reader's SELECT can run on the server: its metadata lock, then max_execution_time. */
export const READ_SERVER_BOUND_MS = L + SERVER_BOUNDS.maxExecutionTimeMs;

/**
 * Room for the work itself (a commit's fsync, a busy CPU) and the trip back, so the caller sees
 * the server's named error rather than the client's timeout.
 */
const CLIENT_MARGIN_MS = 1000;

/**
 * RDS Proxy's `ConnectionBorrowTimeout` (lib/database-proxy.ts): how long a statement may queue
 * in the proxy for a pooled server connection before the proxy answers with an error. It comes
 * BEFORE the server bounds, so the client's statement timeout includes it: a statement the
 * client gave up on has then either failed in the proxy or ended on the server.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-connections.html
 */
export const PROXY_BORROW_TIMEOUT_MS = 1000;

/**
 * How long the client waits for a statement's answer. Longer than every server bound above plus
 * a proxy's borrow wait, so when it fires the server is not merely waiting on a lock: it is
 * stalled or unreachable.
 */
export const STATEMENT_TIMEOUT_MS =
  PROXY_BORROW_TIMEOUT_MS +
  Math.max(WRITE_SERVER_BOUND_MS, READ_SERVER_BOUND_MS) +
  CLIENT_MARGIN_MS;

/** How long the client waits for TCP + TLS + authentication. */
export const CONNECT_TIMEOUT_MS = 3000;

/** Kept back from the Lambda's remaining time, so our error is reported before Lambda's timeout. */
export const SAFETY_MARGIN_MS = 500;

/**
 * The smallest function timeout with which a slow connect still leaves a full statement timeout:
 * lib/data-function.ts's default (10 s) must not be below it.
 */
export const MIN_FUNCTION_TIMEOUT_MS = CONNECT_TIMEOUT_MS + STATEMENT_TIMEOUT_MS + SAFETY_MARGIN_MS;

/**
 * The list reader hands out only rows created at least this long ago ("settled"), so its `next`
 * never passes an id that may still commit (users-repository.ts). Why that is enough: the
 * routine's INSERT stamps `created_at` when it starts, takes its id after at most the table's
 * metadata-lock wait (L), and its transaction ends, committed or rolled back, at most L + 2 I
 * after it started (table metadata lock, row locks; then the commit). So when a read starts, a
 * row that is still uncommitted took its id less than L + 2 I ago, and every row stamped more
 * than 2 L + 2 I ago took a smaller id than it: all ids below such a row are settled. The margin
 * covers the commit and a busy CPU. (NOW() inside a routine's statement is that statement's
 * start: checked on MariaDB; MySQL documents the exception only for functions and triggers.)
 */
export const SETTLED_AFTER_MS = 2 * L + 2 * I + CLIENT_MARGIN_MS;

/**
 * Session settings of the one client that needs longer waits: the schema migration (custom
 * resource and `npm run db:migrate`). DDL waits for running statements to finish, and a
 * deploy should wait for them rather than fail.
 */
export const MIGRATION_SESSION = {
  lockWaitTimeoutSeconds: 30,
  innodbLockWaitTimeoutSeconds: 30,
} as const;

/** MIGRATION_SESSION as one statement (same variable names on MySQL 8.4 and MariaDB). */
export function migrationSessionStatement(): string {
  return (
    `SET SESSION lock_wait_timeout = ${MIGRATION_SESSION.lockWaitTimeoutSeconds}, ` +
    `innodb_lock_wait_timeout = ${MIGRATION_SESSION.innodbLockWaitTimeoutSeconds}`
  );
}

/** A migration statement may wait this long for its locks, plus time for the DDL itself. */
export const MIGRATION_STATEMENT_TIMEOUT_MS =
  (MIGRATION_SESSION.lockWaitTimeoutSeconds + MIGRATION_SESSION.innodbLockWaitTimeoutSeconds) *
    1000 +
  30_000;

/** Database options of the migration (custom resource and `npm run db:migrate`). */
export const MIGRATION_DATABASE_OPTIONS = {
  connectTimeoutMs: 10_000,
  statementTimeoutMs: MIGRATION_STATEMENT_TIMEOUT_MS,
  sessionStatements: [migrationSessionStatement()],
} as const;
