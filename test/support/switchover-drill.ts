import { RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from './app-database';
import { Endpoint, MovableServer, dnsName, proxyEndpoint } from './drill-endpoints';
import { DrillKind, DrillResult, Load, range, sleep } from './drill-load';
import { adminConnect, ServerInfo } from './private-server';
import { ReplicatedPair, startReplicatedPair, stopReplicatedPair } from './replicated-pair';
import { SimulatedEnvironment } from './simulated-environment';

export { DRILL_KINDS, drillProblems, RETRYABLE_DURING_A_MOVE } from './drill-load';
export type { DrillKind, DrillResult } from './drill-load';

/**
 * The moves of the primary's endpoint a function can live through, rehearsed on the bundled
 * handlers under load. A MariaDB primary and its GTID replica stand in for blue and green (or
 * for a Multi-AZ primary and its standby), a relay whose target moves stands in for the
 * endpoint's DNS name.
 *
 * - `switchover`: the switchover actions of the RDS User Guide
 *   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/blue-green-deployments-switching.html):
 *   writes stopped on blue (read_only), its connections dropped, green caught up, the name
 *   moved, green made writable.
 * - `failover`: the primary's server killed (SIGKILL), the standby promoted `promoteAfterMs`
 *   later, then the name moved. Replication is semi-synchronous (AFTER_SYNC): a commit is
 *   acknowledged only once the standby has it, as a Multi-AZ instance's synchronous standby has
 *   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html).
 * - `lagging-name`: the switchover, but after the move every other new connection still
 *   reaches blue (for `laggingMs`, and until `laggingConnections` went there), as while a DNS
 *   change propagates.
 * - `proxy-switchover`: the switchover with the functions behind the RDS Proxy stand-in
 *   (test/support/rds-proxy, 1:1 sessions), which follows it itself: it logs in to blue until
 *   green is promoted, then to green
 *   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-blue-green.html). The
 *   functions' endpoint (the proxy's) never moves.
 *
 * Phases end on conditions as well as on time, so a slow machine makes a drill longer, never
 * emptier: the move waits for `minimum` acknowledged writes and reads, and the drill ends only
 * once the move has settled and as many more have run after it.
 */
export interface DrillOptions {
  readonly kind: DrillKind;
  /** The bundled handlers (test/support/bundle.ts). */
  readonly bundles: { readonly writer: string; readonly reader: string };
  /** @default 4 */
  readonly writers?: number;
  /** @default 2 */
  readonly readers?: number;
  /** Load before the move starts, at least. @default 1000 */
  readonly beforeMs?: number;
  /** Load after the name moved, at least. @default 1500 */
  readonly afterMs?: number;
  /**
   * Acknowledged writes and completed reads before the move, and again after it settled.
   * @default 20
   */
  readonly minimum?: number;
  /** lagging-name: how long every other new connection still reaches blue, at least. @default 1000 */
  readonly laggingMs?: number;
  /** lagging-name: how many new connections still reach blue, at least. @default 0 */
  readonly laggingConnections?: number;
  /** failover: from the kill to the standby's promotion. @default 300 */
  readonly promoteAfterMs?: number;
}

/** Runs one drill on a replicated pair of its own; tears everything down, also on failure. */
export async function runDrill(options: DrillOptions): Promise<DrillResult> {
  const pair = await startReplicatedPair({ delaySeconds: 0 });
  let db: AppDatabase | undefined;
  let endpoint: Endpoint | undefined;
  const environments: SimulatedEnvironment[] = [];
  // Opened beforehand, as RDS's own control connections are: the move costs statements, not logins.
  let blue: AdminConnection | undefined;
  let green: AdminConnection | undefined;
  let load: Load | undefined;
  try {
    [blue, green] = await Promise.all([adminConnect(pair.primary), adminConnect(pair.replica)]);
    blue.on('error', () => undefined); // killed in the failover
    // Idle through the set-up, which a busy machine can stretch past the test server's
    // wait_timeout (TEST_WAIT_TIMEOUT_SECONDS): these two must still be open for the move.
    await Promise.all([blue, green].map((c) => c!.query('SET SESSION wait_timeout = 3600')));
    if (options.kind === 'failover') await semiSynchronous(pair);
    const viaProxy = options.kind === 'proxy-switchover';
    const target = new MovableServer(pair.primary); // what the proxy logs in to
    db = await AppDatabase.create('drill', viaProxy ? target : pair.primary);
    await waitUntilApplied(pair.replica, await binlogPosition(pair.primary));
    endpoint = viaProxy ? await proxyEndpoint(db, target) : await dnsName(db, pair.primary);
    const env = endpoint.env;
    const start = (role: 'writer' | 'reader', i: number) =>
      SimulatedEnvironment.start(`${role}-${i}`, options.bundles[role], env(role), { quiet: true });
    environments.push(
      ...(await Promise.all([
        ...range(options.writers ?? 4).map((i) => start('writer', i)),
        ...range(options.readers ?? 2).map((i) => start('reader', i)),
      ]))
    );
    const writerCount = options.writers ?? 4;
    load = new Load(environments.slice(0, writerCount), environments.slice(writerCount));
    const running = load.run();
    const minimum = options.minimum ?? 20;
    await Promise.all([sleep(options.beforeMs ?? 1000), load.progressed(0, minimum)]);
    const moved = await move(options, { pair, blue, green }, endpoint, db);
    await Promise.all([
      sleep(options.afterMs ?? 1500),
      moved.settled.then((settledAt) => load!.progressed(settledAt, minimum)),
    ]);
    await load.stop(running);
    const [rows] = await green.query<RowDataPacket[]>(
      `SELECT email, version FROM ${db.database}.users`
    );
    const settledAt = await moved.settled;
    return load.result(
      options.kind,
      { at: moved.at, settledAt },
      rows as { email: string; version: number }[]
    );
  } finally {
    load?.halt();
    await Promise.all(environments.map((e) => e.stop()));
    await endpoint?.stop();
    // Their servers may be dead or read-only: no clean-up statements, the servers go anyway.
    for (const connection of [db?.admin, blue, green]) connection?.destroy();
    await stopReplicatedPair(pair);
  }
}

type AdminConnection = Awaited<ReturnType<typeof adminConnect>>;

/** When the name moved, and when the move settled (performance.now() ms). */
interface Moved {
  readonly at: number;
  readonly settled: Promise<number>;
}

/** Performs the move on the pre-opened admin connections. */
async function move(
  options: DrillOptions,
  { pair, blue, green }: { pair: ReplicatedPair; blue: AdminConnection; green: AdminConnection },
  name: Endpoint,
  db: AppDatabase
): Promise<Moved> {
  const promoteGreen = async () => {
    await green.query('STOP SLAVE');
    await green.query('SET GLOBAL read_only = 0');
  };
  if (options.kind === 'failover') {
    process.kill(pair.primary.pid!, 'SIGKILL');
    await sleep(options.promoteAfterMs ?? 300);
    await green.query('STOP SLAVE IO_THREAD');
    const [[status]] = await green.query<RowDataPacket[]>('SHOW SLAVE STATUS');
    // What the standby received is what was acknowledged (semi-synchronous): apply all of it.
    await green.query('SELECT MASTER_GTID_WAIT(?, 60)', [status.Gtid_IO_Pos]);
    await promoteGreen();
    const at = performance.now();
    name.moveTo(pair.replica);
    return { at, settled: Promise.resolve(at) };
  }
  await blue.query('SET GLOBAL read_only = 1'); // writes stopped on blue
  const [sessions] = await blue.query<RowDataPacket[]>(
    'SELECT id FROM information_schema.PROCESSLIST WHERE user IN (?, ?)',
    [db.users.writer.user, db.users.reader.user]
  );
  for (const { id } of sessions) {
    await blue.query(`KILL CONNECTION ${Number(id)}`).catch(() => undefined); // already gone
  }
  const [[{ position }]] = await blue.query<RowDataPacket[]>(
    'SELECT @@gtid_binlog_pos AS position'
  );
  await waitUntilApplied(pair.replica, String(position)); // green caught up
  if (options.kind === 'proxy-switchover') {
    // RDS Proxy routes to green once it sees green promoted (rds-proxy-blue-green.html).
    await promoteGreen();
    const at = performance.now();
    await name.moveTo(pair.replica);
    return { at, settled: Promise.resolve(at) };
  }
  const at = performance.now();
  const lagging = options.kind === 'lagging-name';
  const lagEnded = name.moveTo(pair.replica, {
    ms: lagging ? (options.laggingMs ?? 1000) : 0,
    connections: lagging ? (options.laggingConnections ?? 0) : 0,
  });
  await promoteGreen(); // the names moved, then green writable (blue-green-deployments-switching.html)
  const writableAt = performance.now();
  return { at, settled: lagEnded.then((endedAt) => Math.max(endedAt, writableAt)) };
}

/**
 * Semi-synchronous replication, AFTER_SYNC (MariaDB's built-in semisync): the primary
 * acknowledges a commit only after the replica has written it to its relay log, so a killed
 * primary loses nothing it acknowledged. The timeout is long so it never falls back to async.
 */
async function semiSynchronous(pair: ReplicatedPair): Promise<void> {
  await onServer(pair.primary, async (c) => {
    await c.query('SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC');
    await c.query('SET GLOBAL rpl_semi_sync_master_timeout = 600000');
    await c.query('SET GLOBAL rpl_semi_sync_master_enabled = ON');
  });
  await onServer(pair.replica, async (c) => {
    await c.query('STOP SLAVE IO_THREAD');
    await c.query('SET GLOBAL rpl_semi_sync_slave_enabled = ON');
    await c.query('START SLAVE IO_THREAD');
  });
  await onServer(pair.primary, async (c) => {
    for (let i = 0; ; i++) {
      const [[row]] = await c.query<RowDataPacket[]>(
        "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'"
      );
      if (Number(row.Value) > 0) return;
      if (i > 6000) throw new Error('the replica never connected semi-synchronously');
      await sleep(10);
    }
  });
}

async function binlogPosition(server: ServerInfo): Promise<string> {
  const [[{ position }]] = await onServer(server, (c) =>
    c.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS position')
  );
  return String(position);
}

async function waitUntilApplied(replica: ServerInfo, position: string): Promise<void> {
  const [[{ waited }]] = await onServer(replica, (c) =>
    c.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, 60) AS waited', [position])
  );
  if (Number(waited) !== 0) throw new Error(`the replica did not reach ${position} within 60 s`);
}

async function onServer<T>(
  server: ServerInfo,
  work: (connection: Awaited<ReturnType<typeof adminConnect>>) => Promise<T>
): Promise<T> {
  const connection = await adminConnect(server);
  try {
    return await work(connection);
  } finally {
    await connection.end();
  }
}
