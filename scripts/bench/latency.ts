import { AppDatabase } from '../../test/support/app-database';
import { buildRunBundles } from '../lib/bundles';
import { openServer } from '../../test/support/private-server';
import { SimulatedEnvironment } from '../../test/support/simulated-environment';
import { ProxyStats, TcpRelay } from '../../test/support/tcp-relay';
import { Progress } from '../lib/progress';
import { median, ratio, round } from '../lib/stats';

export interface LatencyRow {
  readonly label: string;
  /** Round trips per warm invocation, counted by the proxy (TCP handshake included). */
  readonly roundTrips: number;
  readonly bytes: number;
  readonly medianMs: number;
  /** medianMs / the baseline's medianMs. */
  readonly ratio: number;
}

export interface LatencyResult {
  readonly oneWayMs: number;
  readonly iterations: number;
  readonly tls: boolean;
  readonly baseline: string;
  readonly rows: LatencyRow[];
}

/**
 * Warm invocations behind a proxy that adds `oneWayMs` each way (so one round trip costs
 * 2 × oneWayMs), over TLS. Baseline, measured in the same run: the anti-pattern's warm
 * invocation, which reuses its module-scope connection (one statement, one round trip).
 */
export async function measureLatency(
  { oneWayMs = 10, iterations = 15 } = {},
  progress = new Progress('bench latency')
): Promise<LatencyResult> {
  progress.update('starting the database and bundling the handlers');
  const [run, bundles] = await Promise.all([
    openServer({ maxConnections: 20, waitTimeout: 60 }),
    buildRunBundles({ antiPattern: true }),
  ]);
  let db: AppDatabase | undefined;
  let proxy: TcpRelay | undefined;
  const environments: SimulatedEnvironment[] = [];
  try {
    db = await AppDatabase.create('bench', run.server);
    proxy = await TcpRelay.start({
      target: { host: run.server.host, port: run.server.port },
      oneWayMs,
    });
    const viaProxy = (role: 'writer' | 'reader') => db!.env(role, { port: proxy!.port });
    const cases: { label: string; file: string; role: 'writer' | 'reader'; reuses: boolean }[] = [
      {
        label: 'reader, module-scope connection (baseline; anti-pattern)',
        file: bundles.antiPattern!,
        role: 'reader',
        reuses: true,
      },
      {
        label: 'writer, module-scope connection (anti-pattern)',
        file: bundles.antiPattern!,
        role: 'writer',
        reuses: true,
      },
      {
        label: 'reader, connection per invocation (shipped)',
        file: bundles.handlers.reader.file,
        role: 'reader',
        reuses: false,
      },
      {
        label: 'writer, connection per invocation (shipped)',
        file: bundles.handlers.writer.file,
        role: 'writer',
        reuses: false,
      },
    ];
    await db.admin.query("INSERT INTO users (email, name) VALUES ('bench@example.com', 'start')");
    const measured: Omit<LatencyRow, 'ratio'>[] = [];
    for (const c of cases) {
      progress.update(c.label);
      const env = await SimulatedEnvironment.start(c.label, c.file, viaProxy(c.role));
      environments.push(env);
      const times: number[] = [];
      const stats: ProxyStats[] = [];
      // Two cold-ish invocations first (credentials, TLS context, JIT); then warm ones.
      for (let i = -2; i < iterations; i++) {
        const event =
          c.role === 'writer'
            ? { email: `bench-${c.reuses ? 'a' : 's'}@example.com`, name: `n${i}` }
            : { email: 'bench@example.com' };
        proxy.reset();
        const outcome = await env.invokeOk(event);
        if (!c.reuses) {
          await proxy.drained(); // let the QUIT cross, so the connection's bytes are all counted
        }
        if (i >= 0) {
          times.push(outcome.ms);
          stats.push(proxy.read());
        }
      }
      await env.stop();
      measured.push({
        label: c.label,
        roundTrips: median(stats.map((s) => s.roundTrips)),
        bytes: median(stats.map((s) => s.bytesToClient + s.bytesToServer)),
        medianMs: round(median(times)),
      });
    }
    progress.done('latency measured');
    const baseline = measured[0].medianMs;
    return {
      oneWayMs,
      iterations,
      tls: Boolean(run.server.caFile),
      baseline: measured[0].label,
      rows: measured.map((m) => ({ ...m, ratio: round(ratio(m.medianMs, baseline)) })),
    };
  } finally {
    await Promise.all(environments.map((e) => e.stop()));
    await proxy?.stop();
    await db?.dispose().catch(() => undefined);
    bundles.dispose();
    await run.close();
  }
}
