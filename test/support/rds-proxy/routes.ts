import { RowDataPacket } from 'mysql2/promise';
import { PROXY_BORROW_TIMEOUT_MS } from '../../../lambda/lib/server-bounds';
import type { AppRole } from '../../../lambda/migrate';
import type { AppDatabase, Session } from '../app-database';
import { pollUntil } from '../poll';
import { LEAK_CHECK_MS } from '../private-server';
import { startBehindProxy } from './behind-proxy';
import type { PoolOptions, RdsProxy } from './index';

/** How a function reaches the database: straight, or through the pooling stand-in (prod's default). */
export const ROUTES = ['direct', 'through RDS Proxy'] as const;
export type RouteName = (typeof ROUTES)[number];

/**
 * The pool the routes use: the shipped borrow timeout (lib/database-proxy.ts), and a share of
 * the shared test server small enough that parallel test files never fill it.
 */
export const TEST_POOL: PoolOptions = {
  maxConnectionsPercent: 20,
  maxIdleConnectionsPercent: 10,
  connectionBorrowTimeoutMs: PROXY_BORROW_TIMEOUT_MS,
};

export interface Route {
  readonly name: RouteName;
  /** The proxy, on the proxied route. */
  readonly proxy?: RdsProxy;
  /** A function's environment for `role` on this route. */
  env(role: AppRole): Record<string, string>;
  /**
   * Waits until the functions' database sessions are at rest and returns the ones that are not:
   * directly, none may be left; through the proxy, only the pool's idle connections, none of
   * them running a statement or inside a transaction (INNODB_TRX), none borrowed or pinned.
   */
  settled(): Promise<Session[]>;
  stop(): Promise<void>;
}

export async function startRoute(
  name: RouteName,
  db: AppDatabase,
  pool: PoolOptions = TEST_POOL
): Promise<Route> {
  if (name === 'direct') {
    return {
      name,
      env: (role) => db.env(role),
      settled: () => db.waitForNoSessions(),
      stop: async () => undefined,
    };
  }
  const proxied = await startBehindProxy(db, { pool });
  const { proxy } = proxied;
  const unsettled = async (): Promise<Session[]> => {
    const counters = proxy.counters().pool!;
    const [open] = await db.admin.query<RowDataPacket[]>(
      'SELECT trx_mysql_thread_id AS id FROM information_schema.INNODB_TRX'
    );
    const inTransaction = new Set(open.map((row) => Number(row.id)));
    const sessions = await db.sessions();
    const busy = sessions.filter((s) => s.command !== 'Sleep' || inTransaction.has(Number(s.id)));
    const unaccounted = sessions.length > counters.open ? sessions : [];
    return counters.borrowed + counters.pinned > 0 && busy.length === 0
      ? sessions
      : [...busy, ...unaccounted];
  };
  return {
    name,
    proxy,
    env: (role) => proxied.env(role),
    settled: () => pollUntil(unsettled, (s) => s.length === 0, { withinMs: LEAK_CHECK_MS }),
    stop: () => proxied.stop(),
  };
}
