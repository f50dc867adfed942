import { DbCredentials, TlsSettings } from './config';
import { OpenConnection, SqlConnection, openConnection } from './connection';
import { CredentialsSource } from './credentials';
import { isAccessDenied, isTooManyConnections, toDataPathError } from './error-mapping';
import { DatabaseAccessDeniedError } from './errors';
import { InvocationMetrics } from './metrics';

/** The part of the Lambda context we use; absent when called outside Lambda. */
export interface InvocationContext {
  getRemainingTimeInMillis?(): number;
}

export interface DatabaseOptions {
  readonly credentials: CredentialsSource;
  /** @default - no TLS (only for DATABASE_URL without ?tls=true) */
  readonly tls?: TlsSettings;
  /** Upper bound for TCP + TLS + authentication. @default 3000 */
  readonly connectTimeoutMs?: number;
  /** Upper bound for the statement. @default 3000 */
  readonly queryTimeoutMs?: number;
  /** Time allowed when there is no Lambda context. @default 8000 (a 10 s function, minus slack) */
  readonly defaultBudgetMs?: number;
  /** Kept back from the remaining time, so our error is reported before Lambda's timeout. @default 500 */
  readonly safetyMarginMs?: number;
  /** Told about each too-many-connections retry (logging, tests). @default - nothing */
  readonly onRetry?: (attempt: number, delayMs: number) => void;
  /** @default Math.random */
  readonly random?: () => number;
  /** Told what each run() did: connect and statement time, TLS resumption, retries. @default - nothing */
  readonly onMetrics?: (metrics: InvocationMetrics) => void;
}

const MIN_ATTEMPT_MS = 200; // below this a new connection attempt cannot succeed anyway

/**
 * Runs one unit of work on a connection opened for it and closed right after.
 *
 * Deliberately no pool and no cached connection: a Lambda environment can be frozen at any
 * moment, and a connection that outlives the invocation serves stale snapshots or sleeps on the
 * server until wait_timeout. Only the credentials source is long-lived.
 */
export class Database {
  constructor(private readonly options: DatabaseOptions) {}

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
      this.options.onMetrics?.(metrics);
    }
  }

  private async runOnce<T>(
    work: (connection: SqlConnection) => Promise<T>,
    context: InvocationContext | undefined,
    metrics: InvocationMetrics
  ): Promise<T> {
    const remaining = context?.getRemainingTimeInMillis?.() ?? this.options.defaultBudgetMs ?? 8000;
    const deadline = Date.now() + remaining - (this.options.safetyMarginMs ?? 500);
    const { connection, credentials } = await this.connect(deadline, metrics);
    metrics.connectMs = connection.connectMs;
    metrics.tlsResumed = connection.tlsResumed;
    const started = performance.now();
    let succeeded = false;
    try {
      const result = await work(connection);
      succeeded = true;
      return result;
    } catch (error) {
      throw toDataPathError(error, credentials);
    } finally {
      metrics.statementMs = performance.now() - started;
      // A failed connection may be mid-statement or half-closed: drop it rather than talk to it.
      if (succeeded) {
        connection.close();
      } else {
        connection.destroy();
      }
    }
  }

  /** Opens a connection, refreshing credentials once they are denied (rotation). */
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
    throw new DatabaseAccessDeniedError(
      `The database at ${cached.host}:${cached.port} denied user "${cached.user}" with every ` +
        'known password (cached, AWSCURRENT, AWSPENDING). Make the secret match the database ' +
        'user: finish or re-run the rotation, or reset the password and the secret together.'
    );
  }

  /** Retries "too many connections" with full-jitter backoff while the invocation has time. */
  private async openWithBackoff(
    credentials: DbCredentials,
    deadline: number,
    metrics: InvocationMetrics
  ): Promise<OpenConnection> {
    const connectTimeoutMs = this.options.connectTimeoutMs ?? 3000;
    const queryTimeoutMs = this.options.queryTimeoutMs ?? 3000;
    const random = this.options.random ?? Math.random;
    for (let attempt = 1; ; attempt++) {
      const left = deadline - Date.now();
      try {
        return await openConnection(credentials, this.options.tls, {
          connectTimeoutMs: Math.max(1, Math.min(connectTimeoutMs, left)),
          queryTimeoutMs: Math.max(1, Math.min(queryTimeoutMs, left)),
        });
      } catch (error) {
        const delayMs = Math.round(random() * Math.min(1000, 50 * 2 ** attempt));
        if (!isTooManyConnections(error) || deadline - Date.now() - delayMs < MIN_ATTEMPT_MS) {
          throw error;
        }
        metrics.connectionRetries++;
        this.options.onRetry?.(attempt, delayMs);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }
}
