import { DatabaseConnection } from './database-connection';

/**
 * The target group's connection pool settings (DBProxyTargetGroup ConnectionPoolConfigurationInfo:
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ConnectionPoolConfigurationInfo.html).
 */
export interface PoolOptions {
  /** `MaxConnectionsPercent`: the pool's cap, as a percentage of the target's max_connections. */
  readonly maxConnectionsPercent: number;
  /** `MaxIdleConnectionsPercent`: idle connections kept open, as a percentage of max_connections. */
  readonly maxIdleConnectionsPercent: number;
  /**
   * `ConnectionBorrowTimeout`, in ms here: how long a client's statement waits for a database
   * connection before the proxy answers 9501. @default 120 s, the API's default
   */
  readonly connectionBorrowTimeoutMs?: number;
  /** The target's max_connections. @default - read from the target (SELECT @@max_connections) */
  readonly maxConnections?: number;
}

/** A database connection of the pool, for the sessions (user, database, ...) of one key. */
export interface PooledConnection {
  readonly key: string;
  readonly connection: DatabaseConnection;
}

/** No database connection freed up within the borrow timeout. */
export class BorrowTimeout extends Error {
  constructor(readonly waitedMs: number) {
    super(`no database connection within ${waitedMs} ms`);
  }
}

interface Waiter {
  readonly key: string;
  readonly open: () => Promise<PooledConnection>;
  readonly resolve: (connection: PooledConnection) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Connections to the database, at most `cap` open, of which at most `idleCap` idle; a client's
 * statement borrows one (waiting, in order, up to the borrow timeout when all are in use) and
 * its session gives it back at a transaction boundary (rds-proxy-connections.html: the proxy
 * reuses a connection "after each transaction"; rds-proxy-managing.html: MaxConnectionsPercent,
 * MaxIdleConnectionsPercent, ConnectionBorrowTimeout).
 */
export class ConnectionPool {
  private readonly idle: PooledConnection[] = [];
  private readonly waiters: Waiter[] = [];
  /** Open (or opening) database connections, borrowed or idle. */
  private open = 0;
  private borrowed = 0;
  private pinned = 0;
  /** The most database connections open at once. */
  private peak = 0;

  constructor(
    readonly cap: number,
    readonly idleCap: number,
    private readonly borrowTimeoutMs: number
  ) {}

  /**
   * A connection for `key`: an idle one, else a new one (`open`) while under the cap, else the
   * next one given back, if that happens within the borrow timeout.
   */
  async borrow(key: string, open: () => Promise<DatabaseConnection>): Promise<PooledConnection> {
    const opener = () => this.opening(key, open);
    // Idle connections the database closed meanwhile (wait_timeout, KILL) are gone.
    this.idle
      .filter((c) => c.connection.stream.destroyed)
      .forEach((c) => this.discard(this.idle.splice(this.idle.indexOf(c), 1)[0]));
    const index = this.idle.findIndex((c) => c.key === key);
    if (index >= 0) return this.lend(this.idle.splice(index, 1)[0]);
    if (this.open < this.cap) return this.lend(await opener());
    if (this.idle.length > 0) {
      // At the cap with idle connections of other users: close one to open one for this key.
      this.discard(this.idle.shift()!);
      return this.lend(await opener());
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new BorrowTimeout(this.borrowTimeoutMs));
      }, this.borrowTimeoutMs).unref(); // a stopped proxy's waiters must not keep the process up
      const waiter: Waiter = { key, open: opener, resolve, reject, timer };
      this.waiters.push(waiter);
    });
  }

  /** Gives back a connection whose session is at a transaction boundary. */
  giveBack(pooled: PooledConnection): void {
    this.borrowed -= 1;
    const waiter = this.waiters.find((w) => w.key === pooled.key) ?? this.waiters[0];
    if (waiter) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      clearTimeout(waiter.timer);
      if (waiter.key === pooled.key) {
        waiter.resolve(this.lend(pooled));
      } else {
        this.discard(pooled);
        waiter.open().then((c) => waiter.resolve(this.lend(c)), waiter.reject);
      }
      return;
    }
    if (this.idle.length < this.idleCap) {
      this.idle.push(pooled);
    } else {
      this.discard(pooled);
    }
  }

  /** Closes a borrowed connection that cannot serve anyone else (its session state is unknown). */
  close(pooled: PooledConnection, { wasPinned = false } = {}): void {
    this.borrowed -= 1;
    if (wasPinned) this.pinned -= 1;
    this.discard(pooled);
    // A slot freed up: the first waiter may open a connection of its own.
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.open().then((c) => waiter.resolve(this.lend(c)), waiter.reject);
    }
  }

  /** A borrowed connection is now its session's until the session ends. */
  pin(): void {
    this.pinned += 1;
  }

  counters(): PoolCounters {
    return {
      open: this.open,
      idle: this.idle.length,
      borrowed: this.borrowed,
      pinned: this.pinned,
      waiting: this.waiters.length,
      peak: this.peak,
    };
  }

  /** Closes every idle connection (the proxy stopping). */
  drain(): void {
    this.idle.splice(0).forEach((c) => this.discard(c));
  }

  private lend(pooled: PooledConnection): PooledConnection {
    this.borrowed += 1;
    return pooled;
  }

  private discard(pooled: PooledConnection): void {
    this.open -= 1;
    pooled.connection.close();
  }

  private async opening(
    key: string,
    open: () => Promise<DatabaseConnection>
  ): Promise<PooledConnection> {
    this.open += 1;
    this.peak = Math.max(this.peak, this.open);
    try {
      return { key, connection: await open() };
    } catch (error) {
      this.open -= 1;
      throw error;
    }
  }
}

/** What the pool holds now (and `peak`, the most database connections ever open at once). */
export interface PoolCounters {
  readonly open: number;
  readonly idle: number;
  readonly borrowed: number;
  readonly pinned: number;
  readonly waiting: number;
  readonly peak: number;
}
