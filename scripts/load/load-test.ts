import { RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from '../../test/support/app-database';
import { buildRunBundles } from '../lib/bundles';
import { PeakSampler, pollUntil } from '../../test/support/poll';
import { LEAK_CHECK_MS, openServer } from '../../test/support/private-server';
import { InvocationOutcome, SimulatedEnvironment } from '../../test/support/simulated-environment';
import { Progress } from '../lib/progress';
import { Summary, round, summarize } from '../lib/stats';
import { formatTable } from '../lib/table';
import { WriteLedger } from './ledger';

export interface LoadOptions {
  /** Simulated environments per function; together they exceed the connection budget. @default 12 */
  readonly environmentsPerFunction?: number;
  /** Server max_connections. @default 8 */
  readonly maxConnections?: number;
  /** How long the environments keep invoking. @default 15 s */
  readonly durationMs?: number;
  /** Hard cap on invocations per environment, whatever the time. @default 1000 */
  readonly maxInvocationsPerEnvironment?: number;
  /** Rows each writer environment owns. @default 4 */
  readonly emailsPerWriter?: number;
}

export interface LoadResult {
  readonly server: string;
  readonly environments: number;
  readonly maxConnections: number;
  /** Connections the functions may use: max_connections minus the one the test's observer holds. */
  readonly connectionBudget: number;
  readonly seconds: number;
  readonly invocations: number;
  readonly throughputPerSecond: number;
  readonly writer: Summary;
  readonly reader: Summary;
  readonly failedInvocations: number;
  readonly failures: string[];
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
 * Many simulated environments (more than the connection budget) invoke the writer and the reader
 * back to back against a server with a small max_connections, for a bounded time and count.
 */
export async function runLoad(
  options: LoadOptions = {},
  progress = new Progress('load')
): Promise<LoadResult> {
  const perFunction = options.environmentsPerFunction ?? 12;
  const maxConnections = options.maxConnections ?? 8;
  const durationMs = options.durationMs ?? 15_000;
  const cap = options.maxInvocationsPerEnvironment ?? 1000;
  const emailsPerWriter = options.emailsPerWriter ?? 4;

  progress.update('starting the database and bundling the handlers');
  const [run, bundles] = await Promise.all([
    openServer({ maxConnections, waitTimeout: 30 }),
    buildRunBundles(),
  ]);
  let db: AppDatabase | undefined;
  let sampler: PeakSampler | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const environments: SimulatedEnvironment[] = [];
  try {
    db = await AppDatabase.create('load', run.server);
    const appDb = db;
    // Sampling from the start also keeps the observer's session busy (wait_timeout is short).
    const sessions = new PeakSampler(async () => (await appDb.sessions()).length, 20);
    sampler = sessions;
    progress.update(`starting ${perFunction * 2} simulated environments`);
    const start = (role: 'writer' | 'reader') =>
      Promise.all(
        Array.from({ length: perFunction }, (_, i) =>
          SimulatedEnvironment.start(`${role}-${i}`, bundles.handlers[role].file, appDb.env(role))
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
    const fail = (outcome: InvocationOutcome) => {
      const key = (outcome.error ?? 'unknown').slice(0, 200);
      failures.set(key, (failures.get(key) ?? 0) + 1);
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
          const outcome = await env.invoke<UserResult>({ email, name: `name ${n}` });
          invocations++;
          latencies.writer.push(outcome.ms);
          if (outcome.ok && outcome.result?.user) {
            ledger.acknowledge(email, outcome.result.user);
          } else {
            fail(outcome);
          }
        }
      }),
      ...readers.map(async (env, r) => {
        for (let n = 0; n < cap && Date.now() < deadline; n++) {
          const email = emails[(r * 7 + n * 13) % emails.length];
          const expected = ledger.expectation(email);
          const outcome = await env.invoke<UserResult>({ email });
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

    // The environments are still alive (warm, idle): a leaked connection would show now.
    const left = await pollUntil(
      () => appDb.sessions(),
      (s) => s.length === 0,
      { withinMs: LEAK_CHECK_MS, everyMs: 50 }
    );
    await sessions.stop();
    const [rows] = await appDb.admin.query<RowDataPacket[]>('SELECT email, version FROM users');
    const [status] = await appDb.admin.query<RowDataPacket[]>(
      "SHOW GLOBAL STATUS LIKE 'Max_used_connections'"
    );
    const failed = [...failures.values()].reduce((a, b) => a + b, 0);
    progress.done(`${invocations} invocations in ${seconds.toFixed(1)} s`);
    return {
      server: run.description,
      environments: environments.length,
      maxConnections,
      connectionBudget: maxConnections - 1,
      seconds: round(seconds, 1),
      invocations,
      throughputPerSecond: round(invocations / seconds, 1),
      writer: roundSummary(summarize(latencies.writer)),
      reader: roundSummary(summarize(latencies.reader)),
      failedInvocations: failed,
      failures: [...failures.entries()].map(([message, count]) => `${count}× ${message}`),
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

/** True when every goal of the load test was met. */
export function loadPassed(r: LoadResult): boolean {
  return (
    r.failedInvocations === 0 &&
    r.lostWrites === 0 &&
    r.staleReads === 0 &&
    r.peakFunctionConnections <= r.connectionBudget &&
    r.connectionsLeftAfterRun === 0
  );
}
