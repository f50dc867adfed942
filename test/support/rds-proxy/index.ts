/**
 * An RDS Proxy stand-in, built from the RDS Proxy guide, for tests that put a proxy between the
 * bundled functions and the private database server (what prod runs: DESIGN.md).
 *
 * Usage:
 *
 *   const secrets = await SecretsEndpoint.start();
 *   secrets.addSecret(WRITER_ARN, db.secret('writer'));           // host/port: the database's
 *   const proxy = await RdsProxy.start({
 *     target: db.server,
 *     secrets,
 *     auth: [{ secretArn: WRITER_ARN, clientPasswordAuthType: 'MYSQL_CACHING_SHA2_PASSWORD' }],
 *     secretRefresh: { everyMs: 30_000, afterFailedLoginMs: 0 },   // guide is silent: parameters
 *     now: () => clock,                                             // the proxy's clock
 *   });
 *   const writer = await LambdaEnvironment.start('writer', {
 *     ...secrets.env(), DB_SECRET_ARN: WRITER_ARN, ...proxy.env(),   // DB_PROXY_HOST, CA file
 *   });
 *   proxy.logins; proxy.secretReads; proxy.counters();
 *   await proxy.stop();
 *
 * The proxy listens on the target's port at a loopback address of its own (127.0.0.2, ...), so
 * a function's secret names the database and DB_PROXY_HOST alone moves it behind the proxy, as
 * the template does (lib/data-function.ts). Files: certificate.ts (its TLS), secret-cache.ts
 * (its secrets and when it re-reads them), client-login.ts (client authentication),
 * database-connection.ts (its database logins), relay.ts (1:1 sessions); with `pool`, sessions
 * multiplexed over a connection pool: pool.ts (MaxConnectionsPercent, MaxIdleConnectionsPercent,
 * ConnectionBorrowTimeout), pooled-session.ts (borrow per transaction, 9501), responses.ts
 * (where a reply ends, its status flags), pinning.ts (what pins a session).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { rmSync } from 'node:fs';
import { AddressInfo, Server, Socket, createServer } from 'node:net';
import { RowDataPacket } from 'mysql2/promise';
import { HandshakeResponse, errPacket, writePacket } from '../mysql-packets';
import { ServerInfo, adminConnect } from '../private-server';
import { PROXY_ADDRESSES, ProxyCertificate, makeProxyCertificate } from './certificate';
import {
  ClientLoginRecord,
  ClientPasswordAuthType,
  LoginRefused,
  authenticateClient,
} from './client-login';
import {
  DatabaseConnection,
  DatabaseLogin,
  errorCode,
  loginToDatabase,
} from './database-connection';
import { ConnectionPool, PoolCounters, PoolOptions } from './pool';
import { DatabaseRefused, runPooledSession } from './pooled-session';
import { relayOneToOne } from './relay';
import { SecretCache, SecretRefresh } from './secret-cache';

export type { ClientPasswordAuthType } from './client-login';
export type { SecretRefresh } from './secret-cache';
export type { PoolOptions, PoolCounters } from './pool';
export { BORROW_TIMEOUT_ERROR } from './pooled-session';

/** One entry of the proxy's auth list (the DBProxy's `Auth` property). */
export interface ProxyAuth {
  readonly secretArn: string;
  /** @default 'MYSQL_CACHING_SHA2_PASSWORD' - what lib/database-proxy.ts configures */
  readonly clientPasswordAuthType?: ClientPasswordAuthType;
}

export interface RdsProxyOptions {
  /** The proxy's target: a private server (its TLS is what the proxy logs in over). */
  readonly target: ServerInfo;
  /** The Secrets Manager stand-in the proxy reads its secrets from (through the AWS SDK). */
  readonly secrets: { env(): Record<string, string> };
  readonly auth: readonly ProxyAuth[];
  /** `RequireTLS`. @default true - what lib/database-proxy.ts configures */
  readonly requireTls?: boolean;
  /**
   * When the proxy reads a secret again (the guide does not say).
   * @default - every 30 s, and not after a failed login
   */
  readonly secretRefresh?: SecretRefresh;
  /**
   * What a client sees when the proxy's own database login is refused (the guide does not say):
   * `access-denied` relays the database's 1045 at login; `connection-closed` closes the
   * client's connection without an answer.
   * @default 'access-denied'
   */
  readonly databaseLoginFailure?: 'access-denied' | 'connection-closed';
  /** The proxy's clock, for the secret re-reads. @default Date.now */
  readonly now?: () => number;
  /**
   * Multiplex client sessions over a pool of database connections, as RDS Proxy does.
   * @default - 1:1 sessions: each client gets a database connection of its own at login
   */
  readonly pool?: PoolOptions;
  /**
   * The proxy's own limits on client connections, answered with its 1040 texts
   * (rds-proxy.troubleshooting.html); their values are not documented, so they are parameters.
   * @default - no limit
   */
  readonly clientLimits?: {
    /** Open client connections beyond which a new one is refused. */
    readonly maxClientConnections?: number;
    /** New client connections per second beyond which one is refused. */
    readonly maxConnectionsPerSecond?: number;
  };
}

/** The proxy's 1040 texts (rds-proxy.troubleshooting.html), with the limit that was hit. */
export const PROXY_CONNECTION_LIMIT_MESSAGES = {
  simultaneous: (limit: number) => `Number simultaneous connections exceeded (${limit})`,
  rate: (limit: number) => `Connections rate limit exceeded (${limit})`,
} as const;

/** One login the proxy made to the database. */
export interface DatabaseLoginRecord {
  readonly user: string;
  readonly ok: boolean;
  /** The database's error code when it refused. */
  readonly code?: number;
}

export class RdsProxy {
  /** Every client login, in order. */
  readonly logins: ClientLoginRecord[] = [];
  /** Every login of the proxy to the database, in order. */
  readonly databaseLogins: DatabaseLoginRecord[] = [];
  private readonly sockets = new Set<Socket>();
  private nextConnectionId = 1;
  private clientConnections = 0;
  private databaseConnections = 0;
  private borrowTimeouts = 0;
  private pins = 0;
  private connectedAt: number[] = [];

  private constructor(
    private readonly server: Server,
    private readonly options: RdsProxyOptions,
    private readonly secrets: SecretCache,
    private readonly certificate: ProxyCertificate,
    /** The pool, when sessions are multiplexed. */
    readonly pool: ConnectionPool | undefined
  ) {}

  /** Reads every secret of the auth list, then listens; resolves when clients can connect. */
  static async start(options: RdsProxyOptions): Promise<RdsProxy> {
    const env = options.secrets.env();
    const client = new SecretsManagerClient({
      endpoint: env.AWS_ENDPOINT_URL_SECRETS_MANAGER,
      region: env.AWS_REGION ?? 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const now = options.now ?? Date.now;
    const secrets = new SecretCache(
      client,
      options.auth.map((a) => a.secretArn),
      options.secretRefresh ?? { everyMs: 30_000 },
      now
    );
    await secrets.load();
    const certificate = await makeProxyCertificate();
    const pool = options.pool && (await makePool(options.pool, options.target));
    const server = createServer();
    const proxy = new RdsProxy(server, options, secrets, certificate, pool);
    server.on('connection', (socket) => proxy.accept(socket));
    await listenOnFreeAddress(server, options.target.port);
    return proxy;
  }

  /** The proxy's endpoint host (DB_PROXY_HOST); its port is the target's. */
  get host(): string {
    return (this.server.address() as AddressInfo).address;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The CA a client trusts to verify the proxy's certificate. */
  get caFile(): string {
    return this.certificate.caFile;
  }

  /** What a function behind this proxy gets on top of its secret (lib/data-function.ts). */
  env(): Record<string, string> {
    return { DB_PROXY_HOST: this.host, DB_TLS_CA_FILE: this.caFile };
  }

  /** Every GetSecretValue the proxy made (secret ARNs, in order). */
  get secretReads(): readonly string[] {
    return this.secrets.reads;
  }

  /**
   * Open client connections, open database connections and, with a pool, the pool's counters
   * (borrowed, pinned, waiting, idle, peak) and how many statements got 9501 or pinned.
   */
  counters(): ProxyCounters {
    const pool = this.pool?.counters();
    return {
      clientConnections: this.clientConnections,
      databaseConnections: pool ? pool.open : this.databaseConnections,
      ...(pool && { pool, borrowTimeouts: this.borrowTimeouts, pins: this.pins }),
    };
  }

  async stop(): Promise<void> {
    this.pool?.drain();
    this.sockets.forEach((socket) => socket.destroy());
    await new Promise((resolve) => this.server.close(resolve));
    rmSync(this.certificate.dir, { recursive: true, force: true });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    this.clientConnections += 1;
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.clientConnections -= 1;
    });
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    const refusal = this.overClientLimits();
    if (refusal) {
      // Instead of a greeting, as a server at its connection limit answers (sql/conn_handler).
      writePacket(socket, 0, errPacket(1040, 'HY000', refusal));
      socket.end();
      return;
    }
    this.session(socket).catch((error) => {
      if (error instanceof LoginRefused) {
        // Ended, not destroyed: the ERR packet must reach the client before the socket closes.
        error.stream.end();
        setTimeout(() => socket.destroy(), 5000).unref();
      } else {
        socket.destroy();
      }
    });
  }

  private async session(socket: Socket): Promise<void> {
    const authTypes = new Map(
      this.options.auth.map((a) => [
        a.secretArn,
        a.clientPasswordAuthType ?? 'MYSQL_CACHING_SHA2_PASSWORD',
      ])
    );
    const client = await authenticateClient(socket, {
      tls: { key: this.certificate.key, cert: this.certificate.cert },
      requireTls: this.options.requireTls ?? true,
      authTypeOf: (user) => {
        const arn = this.secrets.secretArnOf(user);
        return arn === undefined ? undefined : authTypes.get(arn);
      },
      secrets: this.secrets,
      connectionId: this.nextConnectionId++,
      serverVersion: '8.4.7',
      record: (login) => this.logins.push(login),
    });
    const user = client.response.user;
    // Destroying the TLS stream does not close the socket under it: both go.
    const hangUp = () => {
      client.stream.destroy();
      socket.destroy();
    };
    if (this.pool) {
      // Multiplexed: the client's session is with the proxy; database logins come with borrows.
      writePacket(client.stream, client.seq + 1, okPacket());
      const { response } = client;
      runPooledSession(client.stream, client.leftover, {
        pool: this.pool,
        key: [user, response.database ?? '', response.characterSet, response.capabilities].join(
          '\0'
        ),
        open: () => this.openPooled(response),
        databaseLoginFailure: this.options.databaseLoginFailure ?? 'access-denied',
        hangUp,
        events: (event) => {
          if (event === 'borrow-timeout') this.borrowTimeouts += 1;
          else this.pins += 1;
        },
      });
      return;
    }
    let login = await this.loginToDatabase(client.response, client.secret.password);
    if (!login.ok && errorCode(login.error) === 1045) {
      // The database refused the cached password: the secret may have changed (a rotation).
      const fresh = await this.secrets.afterFailedLogin(user);
      if (fresh) login = await this.loginToDatabase(client.response, fresh.password);
    }
    if (!login.ok) {
      if ((this.options.databaseLoginFailure ?? 'access-denied') === 'access-denied') {
        writePacket(client.stream, client.seq + 1, login.error);
        throw new LoginRefused('the database refused the proxy', client.stream);
      }
      client.stream.destroy();
      socket.destroy();
      return;
    }
    // The proxy's own OK: the client's session is with the proxy, not with this connection.
    writePacket(client.stream, client.seq + 1, okPacket());
    const database = login.connection;
    this.databaseConnections += 1;
    relayOneToOne(client.stream, client.leftover, database, hangUp, () => {
      this.databaseConnections -= 1;
    });
  }

  /** A new database connection for the pool, logged in with the cached secret (re-read as allowed). */
  private async openPooled(client: HandshakeResponse): Promise<DatabaseConnection> {
    const secret = await this.secrets.secretFor(client.user);
    if (!secret) throw new Error(`no secret for ${client.user}`);
    let login = await this.loginToDatabase(client, secret.password);
    if (!login.ok && errorCode(login.error) === 1045) {
      const fresh = await this.secrets.afterFailedLogin(client.user);
      if (fresh) login = await this.loginToDatabase(client, fresh.password);
    }
    if (!login.ok) throw new DatabaseRefused(login.error);
    return login.connection;
  }

  /** The proxy's 1040 text when a new client connection is over one of its limits. */
  private overClientLimits(): string | undefined {
    const { maxClientConnections, maxConnectionsPerSecond } = this.options.clientLimits ?? {};
    if (maxClientConnections !== undefined && this.clientConnections > maxClientConnections) {
      return PROXY_CONNECTION_LIMIT_MESSAGES.simultaneous(maxClientConnections);
    }
    if (maxConnectionsPerSecond !== undefined) {
      const now = Date.now();
      this.connectedAt = this.connectedAt.filter((t) => now - t < 1000);
      this.connectedAt.push(now);
      if (this.connectedAt.length > maxConnectionsPerSecond) {
        return PROXY_CONNECTION_LIMIT_MESSAGES.rate(maxConnectionsPerSecond);
      }
    }
    return undefined;
  }

  private async loginToDatabase(
    client: Parameters<typeof loginToDatabase>[1],
    password: string
  ): Promise<DatabaseLogin> {
    const login = await loginToDatabase(this.options.target, client, password);
    this.databaseLogins.push({
      user: client.user,
      ok: login.ok,
      code: login.ok ? undefined : errorCode(login.error),
    });
    return login;
  }
}

/** What counters() reports. */
export interface ProxyCounters {
  readonly clientConnections: number;
  readonly databaseConnections: number;
  /** With a pool: what it holds now. */
  readonly pool?: PoolCounters;
  /** With a pool: statements answered 9501. */
  readonly borrowTimeouts?: number;
  /** With a pool: sessions pinned. */
  readonly pins?: number;
}

/** The pool of `options`: caps from the target's max_connections (read once when not given). */
async function makePool(options: PoolOptions, target: ServerInfo): Promise<ConnectionPool> {
  let maxConnections = options.maxConnections;
  if (maxConnections === undefined) {
    const admin = await adminConnect(target);
    try {
      const [rows] = await admin.query<RowDataPacket[]>('SELECT @@max_connections AS max');
      maxConnections = Number(rows[0].max);
    } finally {
      await admin.end();
    }
  }
  const percent = (p: number) => Math.max(1, Math.floor((maxConnections! * p) / 100));
  return new ConnectionPool(
    percent(options.maxConnectionsPercent),
    Math.min(
      percent(options.maxConnectionsPercent),
      Math.floor((maxConnections * options.maxIdleConnectionsPercent) / 100)
    ),
    options.connectionBorrowTimeoutMs ?? 120_000
  );
}

/** OK_Packet: no rows, no insert id, SERVER_STATUS_AUTOCOMMIT, no warnings. */
function okPacket(): Buffer {
  return Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
}

/** Listens on `port` at the first loopback address of PROXY_ADDRESSES not taken yet. */
async function listenOnFreeAddress(server: Server, port: number): Promise<void> {
  for (const address of PROXY_ADDRESSES) {
    const listening = await new Promise<boolean>((resolve) => {
      const onError = () => resolve(false);
      server.once('error', onError);
      server.listen(port, address, () => {
        server.off('error', onError);
        resolve(true);
      });
    });
    if (listening) return;
  }
  throw new Error(
    `Every proxy address (${PROXY_ADDRESSES.join(', ')}) already has a listener on port ${port}: stop a proxy first.`
  );
}
