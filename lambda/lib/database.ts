import { DbCredentials, TlsSettings } from './config';
import { OpenConnection, SqlConnection, openConnection } from './connection';
import { CredentialsSource, StaticCredentials } from './credentials';
import {
  isAccessDenied,
  isTooManyConnections,
  isUnreachable,
  toDataPathError,
} from './error-mapping';
import { DatabaseAccessDeniedError } from './errors';
import { InvocationMetrics } from './metrics';
import { CONNECT_TIMEOUT_MS, SAFETY_MARGIN_MS, STATEMENT_TIMEOUT_MS } from './server-bounds';

/** The part of the Lambda context we use; absent when called outside Lambda. */
export interface InvocationContext {
  getRemainingTimeInMillis?(): number;
  /** Lambda's id of the invocation: tells an environment's first invocation apart (metrics). */
  readonly awsRequestId?: string;
}

export interface DatabaseOptions {
  readonly credentials: CredentialsSource;
  /** @default - no TLS (only for DATABASE_URL without ?tls=true) */
  readonly tls?: TlsSettings;
  /** Upper bound for TCP + TLS + authentication. @default CONNECT_TIMEOUT_MS (server-bounds.ts) */
  readonly connectTimeoutMs?: number;
  /**
   * How long the client waits for a statement; a statement is not sent with less time left.
   * Must exceed the server's bounds for the session (server-bounds.ts).
   * @default STATEMENT_TIMEOUT_MS (server-bounds.ts)
   */
  readonly statementTimeoutMs?: number;
  /**
   * Statements run first on every connection, e.g. the migration's longer lock waits
   * (`migrationSessionStatement()`). Each costs a round trip: the functions use none.
   * @default - none
   */
  readonly sessionStatements?: readonly string[];
  /** Time allowed when there is no Lambda context. @default 8000 (a 10 s function, minus slack) */
  readonly defaultBudgetMs?: number;
  /** Kept back from the remaining time, so our error is reported before Lambda's timeout. @default SAFETY_MARGIN_MS */
  readonly safetyMarginMs?: number;
  /**
   * Connection attempts per invocation when the server answers "too many connections" (1040).
   * @default MAX_CONNECT_ATTEMPTS (4: the first and three retries)
   */
  readonly maxConnectAttempts?: number;
  /** Told about each too-many-connections retry (logging, tests). @default - nothing */
  readonly onRetry?: (attempt: number, delayMs: number) => void;
  /** @default Math.random */
  readonly random?: () => number;
  /**
   * Told what each run() did: connect and statement time, TLS resumption, retries, and the
   * invocation's context. @default - nothing
   */
  readonly onMetrics?: (metrics: InvocationMetrics, context?: InvocationContext) => void;
}

/**
 * How rehearse() splits its budget: half for TCP + TLS + login, three tenths for the statement,
 * the rest for the server to close the session after COM_QUIT.
 */
export function rehearsalShares(budgetMs: number): {
  connectMs: number;
  statementMs: number;
  closeMs: number;
} {
  const connectMs = Math.max(1, Math.floor(budgetMs * 0.5));
  const statementMs = Math.max(1, Math.floor(budgetMs * 0.3));
  return { connectMs, statementMs, closeMs: Math.max(0, budgetMs - connectMs - statementMs) };
}

const MIN_ATTEMPT_MS = 200; // below this a new connection attempt cannot succeed anyway

/**
 * Attempts per invocation while the server is at max_connections. An ordinary user's 1040 can
 * come after TCP, TLS and authentication: MySQL 8.4 admits max_connections + 1 sessions and
 * refuses the extra one at login unless it has CONNECTION_ADMIN (check_and_incr_conn_count(),
 * sql/conn_handler/connection_handler_manager.cc; acl_authenticate(), sql/auth/
 * sql_authentication.cc); only while that slot is taken are others refused right after accept,
 * before the greeting. MariaDB 10.11 does the same (test/lambda/faults.test.ts measures both
 * costs). Every environment retrying until its deadline would multiply full handshakes exactly
 * when the server is busiest: the cap bounds them to this many per invocation, so at most
 * reserved concurrency x MAX_CONNECT_ATTEMPTS per burst.
 */
export const MAX_CONNECT_ATTEMPTS = 4;

/**
 * Runs one unit of work on a connection opened for it and closed right after.
 *
 * Deliberately no pool and no cached connection: a Lambda environment can be frozen at any
 * moment, and a connection that outlives the invocation serves stale snapshots or sleeps on the
 * server until wait_timeout. Only the credentials source is long-lived.
 */
export class Database {
  constructor(private readonly options: DatabaseOptions) {}

  /**
   * Reads the credentials into the source's cache without opening a connection: what an
   * environment can do once, during Lambda's init phase, so its first invocation only connects
   * (see prepareForFirstInvocation() in runtime.ts). Rejects as reading the credentials would.
   */
  async prepare(): Promise<void> {
    await this.options.credentials.current();
  }

  /**
   * Runs `work` once on a connection of its own, all of it (TCP, TLS, login, the work, the close)
   * within `budgetMs`: what the init phase does so that the first invocation resumes a TLS
   * session and runs code V8 has already compiled (lambda/lib/init-preparation.ts). Unlike run(),
   * it never retries, never tries other credentials and never re-reads the secret: a refused or
   * slow preparation must neither lengthen the init nor change what the first invocation does.
   * Reports no metrics. Rejects with the driver's error; the connection is closed either way.
   */
  async rehearse(
    work: (connection: SqlConnection) => Promise<unknown>,
    budgetMs: number
  ): Promise<void> {
    const credentials = await this.options.credentials.current();
    const deadline = Date.now() + budgetMs;
    // The handshake, the statement and the close each get a share of the budget
    // (rehearsalShares), so together they cannot pass the deadline.
    const shares = rehearsalShares(budgetMs);
    const connection = await openConnection(credentials, this.options.tls, {
      connectTimeoutMs: shares.connectMs,
      statementTimeoutMs: shares.statementMs,
      deadline: deadline - shares.closeMs,
    });
    try {
      await work(connection);
    } catch (error) {
      connection.destroy();
      throw error;
    }
    await connection.closeAndWait(Math.max(0, deadline - Date.now()));
  }

  private get statementTimeoutMs(): number {
    return this.options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS;
  }

  async run<T>(
    work: (connection: SqlConnection) => Promise<T>,
    context?: InvocationContext
  ): Promise<T> {
    const fetchesBefore = this.options.credentials.fetches ?? 0;
    const metrics: InvocationMetrics = { credentialFetches: 0, connectionRetries: 0 };
    try {
      return await this.runOnce(work, context, metrics);
    } finally {
      metrics.credentialFetches = (this.options.credentials.fetches ?? 0) - fetchesBefore;
      this.options.onMetrics?.(metrics, context);
    }
  }

  private async runOnce<T>(
    work: (connection: SqlConnection) => Promise<T>,
    context: InvocationContext | undefined,
    metrics: InvocationMetrics
  ): Promise<T> {
    const remaining = context?.getRemainingTimeInMillis?.() ?? this.options.defaultBudgetMs ?? 8000;
    const deadline = Date.now() + remaining - (this.options.safetyMarginMs ?? SAFETY_MARGIN_MS);
    const { connection, credentials } = await this.connect(deadline, metrics);
    metrics.connectMs = connection.connectMs;
    metrics.tlsResumed = connection.tlsResumed;
    const started = performance.now();
    let succeeded = false;
    try {
      for (const statement of this.options.sessionStatements ?? []) {
        await connection.query(statement, []);
      }
      const result = await work(connection);
      succeeded = true;
      return result;
    } catch (error) {
      throw toDataPathError(error, credentials);
    } finally {
      metrics.statementMs = performance.now() - started;
      // A failed connection may be mid-statement or half-closed: drop it rather than talk to it.
      // Its statement cannot outlive the server's bounds (server-bounds.ts).
      if (succeeded) {
        connection.close();
      } else {
        connection.destroy();
      }
    }
  }

  /**
   * Opens a connection. Denied: re-reads the credentials (rotation). Unreachable: re-reads the
   * settings, at most as often as the source allows, since a fixed secret must not wait for the
   * cache to expire.
   */
  private async connect(
    deadline: number,
    metrics: InvocationMetrics
  ): Promise<{ connection: OpenConnection; credentials: DbCredentials }> {
    const source = this.options.credentials;
    const cached = await source.current();
    try {
      return {
        connection: await this.openWithBackoff(cached, deadline, metrics),
        credentials: cached,
      };
    } catch (error) {
      if (isUnreachable(error)) {
        return this.connectWithRereadSettings(cached, error, deadline, metrics);
      }
      if (!isAccessDenied(error)) {
        throw toDataPathError(error, cached);
      }
    }
    for await (const candidate of source.alternatives(cached)) {
      try {
        const connection = await this.openWithBackoff(candidate, deadline, metrics);
        source.accepted(candidate);
        return { connection, credentials: candidate };
      } catch (error) {
        if (!isAccessDenied(error)) {
          throw toDataPathError(error, candidate);
        }
      }
    }
    if (source instanceof StaticCredentials) {
      // Fixed credentials (DATABASE_URL): no secret, so no rotation to blame.
      throw new DatabaseAccessDeniedError(
        `The database at ${cached.host}:${cached.port} denied user "${cached.user}": check the ` +
          'user and password in DATABASE_URL, and that the user exists and may connect from here.'
      );
    }
    throw new DatabaseAccessDeniedError(
      `The database at ${cached.host}:${cached.port} denied user "${cached.user}" with every ` +
        'known password (cached, AWSCURRENT, AWSPREVIOUS, AWSPENDING). Make the secret match the ' +
        'database user: finish or re-run the rotation, or reset the password and the secret ' +
        'together. After such a refusal the secret is read again at most every 30 s.'
    );
  }

  private async connectWithRereadSettings(
    stale: DbCredentials,
    failure: unknown,
    deadline: number,
    metrics: InvocationMetrics
  ): Promise<{ connection: OpenConnection; credentials: DbCredentials }> {
    const fresh = await this.options.credentials.reread(stale);
    if (!fresh) {
      throw toDataPathError(failure, stale);
    }
    try {
      const connection = await this.openWithBackoff(fresh, deadline, metrics);
      this.options.credentials.accepted(fresh);
      return { connection, credentials: fresh };
    } catch (error) {
      throw toDataPathError(error, fresh);
    }
  }

  /**
   * Retries "too many connections" with full-jitter backoff, at most maxConnectAttempts times in
   * all, and only while a retry would still leave a whole statement timeout before the deadline.
   */
  private async openWithBackoff(
    credentials: DbCredentials,
    deadline: number,
    metrics: InvocationMetrics
  ): Promise<OpenConnection> {
    const connectTimeoutMs = this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const statementTimeoutMs = this.statementTimeoutMs;
    const random = this.options.random ?? Math.random;
    const maxAttempts = this.options.maxConnectAttempts ?? MAX_CONNECT_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      const left = deadline - Date.now();
      try {
        return await openConnection(credentials, this.options.tls, {
          connectTimeoutMs: Math.max(1, Math.min(connectTimeoutMs, left)),
          statementTimeoutMs,
          deadline,
        });
      } catch (error) {
        const delayMs = Math.round(random() * Math.min(1000, 50 * 2 ** attempt));
        const leftAfterDelay = deadline - Date.now() - delayMs;
        if (
          !isTooManyConnections(error) ||
          attempt >= maxAttempts ||
          leftAfterDelay < MIN_ATTEMPT_MS + statementTimeoutMs
        ) {
          throw error;
        }
        metrics.connectionRetries++;
        this.options.onRetry?.(attempt, delayMs);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }
}
