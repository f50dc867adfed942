import { loadavg } from 'node:os';
import { RowDataPacket } from 'mysql2/promise';
import * as dataPathErrors from '../../lambda/lib/errors';
import { PROXY_BORROW_TIMEOUT_MS } from '../../lambda/lib/server-bounds';
import { AppDatabase } from '../../test/support/app-database';
import { PoolOptions } from '../../test/support/rds-proxy';
import { Route, RouteName, startRoute } from '../../test/support/rds-proxy/routes';
import { buildRunBundles } from '../lib/bundles';
import { PeakSampler } from '../../test/support/poll';
import { openServer } from '../../test/support/private-server';
import { InvocationOutcome, SimulatedEnvironment } from '../../test/support/simulated-environment';
import { Progress } from '../lib/progress';
import { Summary, round, summarize } from '../lib/stats';
import { formatTable } from '../lib/table';
import { WriteLedger } from './ledger';
import { splitByShare } from '../../lib/connection-budget';
import { DATA_FUNCTIONS } from '../../lib/declared-functions';

export interface LoadOptions {
  /**
   * Simulated environments per function through the proxy, where together they exceed its pool.
   * Directly, each function runs as many as its reserved concurrency: Lambda runs no more of a
   * function's invocations at once, and throttles the rest before any environment sees them.
   * @default 12
   */
  readonly environmentsPerFunction?: number;
  /** Server max_connections. @default 8 */
  readonly maxConnections?: number;
  /** How long the environments keep invoking. @default 15 s */
  readonly durationMs?: number;
  /**
   * Hard cap on invocations per environment, whatever the time: above what one does in the
   * run's 15 s, even directly, where a few environments share the machine. @default 4000
   */
  readonly maxInvocationsPerEnvironment?: number;
  /** Rows each writer environment owns. @default 4 */
  readonly emailsPerWriter?: number;
  /**
   * Straight to the server, or through the pooling RDS Proxy stand-in with PROXY_POOL (fewer
   * database connections than environments). @default 'direct'
   */
  readonly route?: RouteName;
}

/**
 * The proxied run's pool: half of max_connections (4 of 8 by default, against 24 environments),
 * a quarter kept idle, and the borrow timeout the stack ships (lib/database-proxy.ts).
 */
export const PROXY_POOL: PoolOptions = {
  maxConnectionsPercent: 50,
  maxIdleConnectionsPercent: 25,
  connectionBorrowTimeoutMs: PROXY_BORROW_TIMEOUT_MS,
};

/** What each invocation may take: the `remainingMs` the runtime stand-in gives it. */
export const INVOCATION_BUDGET_MS = 10_000;

/** Error names the handlers define (lambda/lib/errors.ts): a failure with another is unnamed. */
const NAMED_ERRORS = new Set(Object.keys(dataPathErrors));

export interface LoadResult {
  /** How the functions reached the database (absent in reports from before the proxied run). */
  readonly route?: RouteName;
  /** Through the proxy: its pool's cap (database connections). */
  readonly poolConnections?: number;
  /** The machine's 1-minute load average at the end of the run: how busy it was. */
  readonly loadAverage?: number;
  readonly server: string;
  readonly environments: number;
  /** Environments per function (absent in reports from before they could differ). */
  readonly environmentsByFunction?: Record<string, number>;
  readonly maxConnections: number;
  /** Connections the functions may use: max_connections minus the one the test's observer holds. */
  readonly connectionBudget: number;
  /**
   * Directly: each function's reserved concurrency, and so its environments: the budget split
   * in the declared shares' ratio, as the stack splits the functions' connections
   * (lib/connection-budget.ts). Through the proxy: none, its pool is the limit. (Absent in
   * reports from before it was applied.)
   */
  readonly reservedConcurrency?: Record<string, number>;
  readonly seconds: number;
  readonly invocations: number;
  readonly throughputPerSecond: number;
  readonly writer: Summary;
  readonly reader: Summary;
  readonly failedInvocations: number;
  readonly failures: string[];
  /** Failed invocations by error name. */
  readonly failuresByName?: Record<string, number>;
  /** Failed invocations whose error is not one the handlers name (lambda/lib/errors.ts). */
  readonly unnamedFailures?: number;
  /** The longest invocation, failed or not, against INVOCATION_BUDGET_MS. */
  readonly slowestInvocationMs?: number;
  /**
   * Writes the table holds beyond the acknowledged ones: each acknowledged write renames its row
   * (a new name per invocation), so a row's version counts the writes that landed.
   */
  readonly writesOfFailedInvocations?: number;
  readonly staleReads: number;
  readonly lostWrites: number;
  /** Peak of the functions' sessions, sampled every 20 ms. */
  readonly peakFunctionConnections: number;
  /** The server's own Max_used_connections (all users, includes the observer). */
  readonly serverMaxUsedConnections: number;
  readonly connectionsLeftAfterRun: number;
}

type UserResult = { user: { email: string; name: string; version: number } | null };

/**
 * Simulated environments invoke the writer and the reader back to back against a server with a
 * small max_connections, for a bounded time and count: directly, as many as each function's
 * reserved concurrency; through the proxy, more than its pool.
 */
export async function runLoad(
  options: LoadOptions = {},
  progress = new Progress('load')
): Promise<LoadResult> {
  const maxConnections = options.maxConnections ?? 8;
  const durationMs = options.durationMs ?? 15_000;
  const cap = options.maxInvocationsPerEnvironment ?? 4000;
  const emailsPerWriter = options.emailsPerWriter ?? 4;
  const routeName = options.route ?? 'direct';
  const connectionBudget = maxConnections - 1;
  // Directly, reserved concurrency is what keeps a connection per invocation within
  // max_connections: the stack sets each function's to its share of the functions' connections
  // (lib/connection-budget.ts), and so does this run, with the budget split in the same ratio.
  // Through the proxy the functions' client connections outnumber the pool, which is what that
  // run shows.
  const reservedConcurrency =
    routeName === 'direct' ? splitByShare(connectionBudget, DATA_FUNCTIONS) : undefined;
  const environmentsFor = (role: 'writer' | 'reader'): number => {
    if (!reservedConcurrency) return options.environmentsPerFunction ?? 12;
    const limit = reservedConcurrency[role];
    if (limit === undefined) {
      throw new Error(`${role} is not a declared data function (lib/declared-functions.ts)`);
    }
    return limit;
  };

  progress.update('starting the database and bundling the handlers');
  const [run, bundles] = await Promise.all([
    openServer({ maxConnections, waitTimeout: 30 }),
    buildRunBundles(),
  ]);
  let db: AppDatabase | undefined;
  let sampler: PeakSampler | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let route: Route | undefined;
  const environments: SimulatedEnvironment[] = [];
  try {
    db = await AppDatabase.create('load', run.server);
    const appDb = db;
    route = await startRoute(routeName, appDb, { ...PROXY_POOL, maxConnections });
    const via = route;
    // Sampling from the start also keeps the observer's session busy (wait_timeout is short).
    const sessions = new PeakSampler(async () => (await appDb.sessions()).length, 20);
    sampler = sessions;
    progress.update(
      `starting ${environmentsFor('writer') + environmentsFor('reader')} simulated environments`
    );
    const start = (role: 'writer' | 'reader') =>
      Promise.all(
        Array.from({ length: environmentsFor(role) }, (_, i) =>
          SimulatedEnvironment.start(`${role}-${i}`, bundles.handlers[role].file, via.env(role))
        )
      );
    const writers = await start('writer');
    const readers = await start('reader');
    environments.push(...writers, ...readers);

    const ledger = new WriteLedger();
    const emails = writers.flatMap((_, w) =>
      Array.from({ length: emailsPerWriter }, (__, k) => `w${w}-${k}@load.example`)
    );
    const latencies = { writer: [] as number[], reader: [] as number[] };
    const failures = new Map<string, number>();
    const byName = new Map<string, number>();
    const acknowledgedWrites = new Map<string, number>();
    const fail = (outcome: InvocationOutcome) => {
      const key = (outcome.error ?? 'unknown').slice(0, 200);
      failures.set(key, (failures.get(key) ?? 0) + 1);
      const name = outcome.errorName ?? 'unknown';
      byName.set(name, (byName.get(name) ?? 0) + 1);
    };

    const began = Date.now();
    const deadline = began + durationMs;
    let invocations = 0;
    ticker = setInterval(
      () => progress.update(`${invocations} invocations, ${sessions.peak} peak connections`),
      1000
    );
    const loops = [
      ...writers.map(async (env, w) => {
        for (let n = 0; n < cap && Date.now() < deadline; n++) {
          const email = `w${w}-${n % emailsPerWriter}@load.example`;
          const outcome = await env.invoke<UserResult>(
            { email, name: `name ${n}` },
            INVOCATION_BUDGET_MS
          );
          invocations++;
          latencies.writer.push(outcome.ms);
          if (outcome.ok && outcome.result?.user) {
            ledger.acknowledge(email, outcome.result.user);
            acknowledgedWrites.set(email, (acknowledgedWrites.get(email) ?? 0) + 1);
          } else {
            fail(outcome);
          }
        }
      }),
      ...readers.map(async (env, r) => {
        for (let n = 0; n < cap && Date.now() < deadline; n++) {
          const email = emails[(r * 7 + n * 13) % emails.length];
          const expected = ledger.expectation(email);
          const outcome = await env.invoke<UserResult>({ email }, INVOCATION_BUDGET_MS);
          invocations++;
          latencies.reader.push(outcome.ms);
          if (outcome.ok && outcome.result) {
            ledger.checkRead(expected, outcome.result.user);
          } else {
            fail(outcome);
          }
        }
      }),
    ];
    await Promise.all(loops);
    const seconds = (Date.now() - began) / 1000;

    // The environments are still alive (warm, idle): a leaked connection would show now;
    // through the proxy, a pooled connection still running a statement or in a transaction.
    const left = await via.settled();
    await sessions.stop();
    const [rows] = await appDb.admin.query<RowDataPacket[]>('SELECT email, version FROM users');
    const [status] = await appDb.admin.query<RowDataPacket[]>(
      "SHOW GLOBAL STATUS LIKE 'Max_used_connections'"
    );
    const failed = [...failures.values()].reduce((a, b) => a + b, 0);
    const versions = new Map(rows.map((row) => [String(row.email), Number(row.version)]));
    const writesOfFailedInvocations = [...versions].reduce(
      (sum, [email, version]) => sum + Math.max(0, version - (acknowledgedWrites.get(email) ?? 0)),
      0
    );
    const all = [...latencies.writer, ...latencies.reader];
    progress.done(`${invocations} invocations in ${seconds.toFixed(1)} s`);
    return {
      route: routeName,
      poolConnections: via.proxy?.pool?.cap,
      loadAverage: round(loadavg()[0], 1),
      server: run.description,
      environments: environments.length,
      environmentsByFunction: { writer: writers.length, reader: readers.length },
      maxConnections,
      connectionBudget,
      reservedConcurrency,
      seconds: round(seconds, 1),
      invocations,
      throughputPerSecond: round(invocations / seconds, 1),
      writer: roundSummary(summarize(latencies.writer)),
      reader: roundSummary(summarize(latencies.reader)),
      failedInvocations: failed,
      failures: [...failures.entries()].map(([message, count]) => `${count}× ${message}`),
      failuresByName: Object.fromEntries(byName),
      unnamedFailures: [...byName].reduce(
        (sum, [name, count]) => sum + (NAMED_ERRORS.has(name) ? 0 : count),
        0
      ),
      slowestInvocationMs: round(Math.max(0, ...all)),
      writesOfFailedInvocations,
      staleReads: ledger.staleReads,
      lostWrites: ledger.lostWrites(
        rows.map((row) => ({ email: row.email, version: Number(row.version) }))
      ).length,
      peakFunctionConnections: sessions.peak,
      serverMaxUsedConnections: Number(status[0].Value),
      connectionsLeftAfterRun: left.length,
    };
  } finally {
    clearInterval(ticker);
    await sampler?.stop();
    await Promise.all(environments.map((e) => e.stop()));
    await route?.stop();
    await db?.dispose().catch(() => undefined);
    bundles.dispose();
    await run.close();
  }
}

function roundSummary(s: Summary): Summary {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v)])) as unknown as Summary;
}

/**
 * The table of a load run, each line with its goal: aligned text for the terminal (`npm run
 * load`), or markdown for docs/performance.md (`format`).
 */
export function loadTable(r: LoadResult, format = formatTable): string {
  const goal = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  return format(
    ['', 'measured', 'goal', ''],
    [
      ['reserved concurrency', concurrencyOf(r), '', ''],
      ['throughput', `${r.throughputPerSecond} invocations/s`, '', ''],
      ['writer latency p50 / p99', `${r.writer.p50} / ${r.writer.p99} ms`, '', ''],
      ['reader latency p50 / p99', `${r.reader.p50} / ${r.reader.p99} ms`, '', ''],
      [
        'failed invocations',
        `${r.failedInvocations} of ${r.invocations}`,
        '0',
        goal(r.failedInvocations === 0),
      ],
      ['lost writes', String(r.lostWrites), '0', goal(r.lostWrites === 0)],
      ['stale reads', String(r.staleReads), '0', goal(r.staleReads === 0)],
      [
        'peak function connections (sampled every 20 ms)',
        String(r.peakFunctionConnections),
        `≤ ${r.connectionBudget}`,
        goal(r.peakFunctionConnections <= r.connectionBudget),
      ],
      // Not a goal: MariaDB's counter also counts the attempts it refused, and the observer.
      ['server Max_used_connections (incl. refused)', String(r.serverMaxUsedConnections), '', ''],
      [
        'connections left after the run',
        String(r.connectionsLeftAfterRun),
        '0',
        goal(r.connectionsLeftAfterRun === 0),
      ],
    ],
    { alignRight: [1, 2] }
  );
}

/**
 * True when every goal of the load test was met. Directly: no failed invocation. Through the
 * proxy, whose pool is smaller than the environments: every failure a named error within the
 * invocation's budget, no write of a failed invocation in the table, none left in a transaction.
 */
export function loadPassed(r: LoadResult): boolean {
  const common =
    r.lostWrites === 0 &&
    r.staleReads === 0 &&
    r.peakFunctionConnections <= peakGoal(r) &&
    r.connectionsLeftAfterRun === 0;
  if (r.route !== 'through RDS Proxy') return common && r.failedInvocations === 0;
  return (
    common &&
    r.unnamedFailures === 0 &&
    (r.slowestInvocationMs ?? Infinity) <= INVOCATION_BUDGET_MS &&
    r.writesOfFailedInvocations === 0
  );
}

/** "7 environments (writer 2, reader 5)", from a result of any age. */
export function environmentsOf(r: LoadResult): string {
  const byFunction = r.environmentsByFunction ?? {
    writer: r.environments / 2,
    reader: r.environments / 2,
  };
  return `${r.environments} environments (${perFunction(byFunction)})`;
}

/** Each function's reserved concurrency in the run, or why there was none. */
function concurrencyOf(r: LoadResult): string {
  if (!r.reservedConcurrency) return r.route === 'through RDS Proxy' ? 'none (the pool)' : '–';
  return perFunction(r.reservedConcurrency);
}

/** "writer 2, reader 5". */
function perFunction(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
}

/** Database sessions the run may hold: the budget directly, the pool through the proxy. */
function peakGoal(r: LoadResult): number {
  return r.poolConnections ?? r.connectionBudget;
}

/**
 * The direct and the proxied run side by side, each figure with its goal: what `npm run load`
 * prints and docs/performance.md shows.
 */
export function loadComparisonTable(
  direct: LoadResult,
  proxied: LoadResult,
  format = formatTable
): string {
  const goal = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  const both = (f: (r: LoadResult) => string) => [f(direct), f(proxied)];
  const byName = (r: LoadResult) =>
    Object.entries(r.failuresByName ?? {})
      .map(([name, count]) => `${count} ${name}`)
      .join(', ') || '–';
  return format(
    ['', 'direct', `through RDS Proxy (pool of ${proxied.poolConnections})`, 'goal (proxy)', ''],
    [
      ['reserved concurrency', ...both(concurrencyOf), '', ''],
      ['throughput', ...both((r) => `${r.throughputPerSecond} invocations/s`), '', ''],
      ['writer latency p50 / p99', ...both((r) => `${r.writer.p50} / ${r.writer.p99} ms`), '', ''],
      ['reader latency p50 / p99', ...both((r) => `${r.reader.p50} / ${r.reader.p99} ms`), '', ''],
      ['failed invocations', ...both((r) => `${r.failedInvocations} of ${r.invocations}`), '', ''],
      ['failures by name', ...both(byName), 'named', goal(proxied.unnamedFailures === 0)],
      [
        'slowest invocation',
        ...both((r) => `${r.slowestInvocationMs} ms`),
        `≤ ${INVOCATION_BUDGET_MS} ms`,
        goal((proxied.slowestInvocationMs ?? Infinity) <= INVOCATION_BUDGET_MS),
      ],
      [
        'writes of failed invocations in the table',
        ...both((r) => String(r.writesOfFailedInvocations)),
        '0',
        goal(proxied.writesOfFailedInvocations === 0),
      ],
      ['lost writes', ...both((r) => String(r.lostWrites)), '0', goal(proxied.lostWrites === 0)],
      ['stale reads', ...both((r) => String(r.staleReads)), '0', goal(proxied.staleReads === 0)],
      [
        'database sessions at peak (sampled every 20 ms)',
        ...both((r) => String(r.peakFunctionConnections)),
        `≤ ${peakGoal(proxied)}`,
        goal(proxied.peakFunctionConnections <= peakGoal(proxied)),
      ],
      [
        'sessions left running or in a transaction',
        ...both((r) => String(r.connectionsLeftAfterRun)),
        '0',
        goal(proxied.connectionsLeftAfterRun === 0),
      ],
    ],
    { alignRight: [1, 2, 3] }
  );
}
