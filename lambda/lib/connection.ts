import { connect as tcpConnect, Socket } from 'node:net';
import { createConnection } from 'mysql2';
import { DbCredentials, TlsSettings } from './config';
import { NotEnoughTimeError } from './errors';
import { bindValues } from './sql-literals';
import { redactStatement } from './statement-redaction';

/** What the repositories need from a connection: one parameterised statement at a time. */
export interface SqlConnection {
  /**
   * Runs one statement through the text protocol. `?` placeholders become literals whose
   * meaning does not depend on sql_mode (sql-literals.ts), which costs no extra round trip (a
   * server-side prepared statement would: the statement cache of a fresh connection is always
   * cold, and it would pin an RDS Proxy session).
   */
  query<T>(sql: string, values: readonly unknown[]): Promise<T>;
}

/** One open connection, owned by exactly one invocation. */
export interface OpenConnection extends SqlConnection {
  /** Sends COM_QUIT and returns at once: the server closes the session; nothing to wait for. */
  close(): void;
  /** Drops the socket without a goodbye, for a connection in an unknown state. */
  destroy(): void;
  /**
   * Sends COM_QUIT and resolves once the server has closed the socket, or drops it after
   * `timeoutMs`: for the init phase, after which Lambda may freeze the process before a QUIT
   * left in its buffers reaches the server (lambda/lib/init-preparation.ts).
   */
  closeAndWait(timeoutMs: number): Promise<void>;
  /** TCP + TLS + authentication, ms (metrics). */
  readonly connectMs: number;
  /** Whether TLS resumed an earlier session of this environment; undefined without TLS. */
  readonly tlsResumed?: boolean;
}

/** The raw driver or socket error, annotated with what we knew when it happened. */
export interface ConnectionFailure extends Error {
  code?: string;
  errno?: number;
  sqlMessage?: string;
  /** Whether the TCP connection had been established when the error happened. */
  tcpConnected?: boolean;
  phase?: 'connect' | 'query';
  timeoutMs?: number;
}

export interface ConnectionTimeouts {
  /** Upper bound for TCP + TLS + authentication. */
  readonly connectTimeoutMs: number;
  /** How long the client waits for each statement's answer (server-bounds.ts). */
  readonly statementTimeoutMs: number;
  /**
   * Epoch ms by which the invocation must have its answer. A statement is not sent when less
   * than `statementTimeoutMs` is left: the server could still apply it after we report failure.
   */
  readonly deadline: number;
}

/**
 * Opens one mysql2 connection: TCP, then TLS when `tls` is set, then authentication. Resolves
 * once the server has accepted the credentials; rejects with the driver's error otherwise.
 */
export function openConnection(
  credentials: DbCredentials,
  tls: TlsSettings | undefined,
  { connectTimeoutMs, statementTimeoutMs, deadline }: ConnectionTimeouts
): Promise<OpenConnection> {
  // We create the socket ourselves to learn whether TCP connected: that tells "unreachable"
  // (security group, wrong host) apart from "accepted but silent" (overloaded server).
  let tcpConnected = false;
  const started = performance.now();
  const socket: Socket = tcpConnect({ host: credentials.host, port: credentials.port });
  socket.setNoDelay(true);
  socket.once('connect', () => {
    tcpConnected = true;
  });

  const connection = createConnection({
    stream: socket,
    host: credentials.host,
    port: credentials.port,
    user: credentials.user,
    password: credentials.password,
    database: credentials.database,
    ssl: tls,
    connectTimeout: connectTimeoutMs,
    // Stated although they are the defaults: one statement per query() so an injected `;`
    // cannot chain statements, and no LOAD DATA LOCAL INFILE.
    multipleStatements: false,
    infileStreamFactory: undefined,
    // BIGINT values beyond 2^53 arrive as strings instead of silently rounded numbers, so an id
    // that JSON cannot carry exactly is refused (users-repository.ts) rather than mangled.
    supportBigNumbers: true,
    bigNumberStrings: true,
    // Nothing here prepares a statement (query() uses the text protocol), yet mysql2 sizes a
    // prepared-statement LRU of 16,000 entries per connection by default: with a connection
    // per invocation that allocation was about a third of the client's CPU. 0 means "default".
    maxPreparedStatements: 1,
  });

  const destroy = () => {
    connection.destroy();
    socket.destroy();
  };

  return new Promise((resolve, reject) => {
    const onError = (error: ConnectionFailure) => {
      destroy();
      reject(Object.assign(error, { tcpConnected, phase: 'connect', timeoutMs: connectTimeoutMs }));
    };
    connection.once('error', onError);
    connection.once('connect', () => {
      connection.off('error', onError);
      // Errors that arrive when no statement is running (the server closing an idle session)
      // need a listener, or Node would treat them as uncaught; the next query reports them.
      connection.on('error', () => undefined);
      // After the TLS upgrade mysql2's `stream` is the TLSSocket it made over our socket.
      const secure = (connection as unknown as { stream?: { isSessionReused?(): boolean } }).stream;
      resolve({
        connectMs: performance.now() - started,
        tlsResumed: tls ? Boolean(secure?.isSessionReused?.()) : undefined,
        query: <T>(sql: string, values: readonly unknown[]) =>
          new Promise<T>((resolveQuery, rejectQuery) => {
            const left = deadline - Date.now();
            if (left < statementTimeoutMs) {
              rejectQuery(new NotEnoughTimeError(left, statementTimeoutMs));
              return;
            }
            let text: string;
            try {
              // Values are bound here, not by mysql2, whose backslash escaping means something
              // else under NO_BACKSLASH_ESCAPES, a mode the greeting may not reveal (a proxy's).
              text = bindValues(sql, values);
            } catch (error) {
              rejectQuery(error);
              return;
            }
            connection.query({ sql: text, timeout: statementTimeoutMs }, (error, rows) => {
              if (error) {
                const context = {
                  tcpConnected: true,
                  phase: 'query',
                  timeoutMs: statementTimeoutMs,
                };
                // Never the statement, nor a bound value (a password), on the error.
                rejectQuery(Object.assign(redactStatement(error, values), context));
              } else {
                resolveQuery(rows as T);
              }
            });
          }),
        close: () => connection.end(),
        destroy,
        closeAndWait: (timeoutMs: number) =>
          new Promise<void>((resolveClose) => {
            if (socket.destroyed) {
              resolveClose();
              return;
            }
            const timer = setTimeout(
              () => {
                destroy();
                resolveClose();
              },
              Math.max(0, timeoutMs)
            );
            socket.once('close', () => {
              clearTimeout(timer);
              resolveClose();
            });
            connection.end();
          }),
      });
    });
  });
}
