import { RowDataPacket } from 'mysql2/promise';
import { WriteLedger } from '../../scripts/load/ledger';
import { AppDatabase } from './app-database';
import { startBehindProxy } from './rds-proxy/behind-proxy';
import { HANG_MS } from './poll';
import { adminConnect, ServerInfo } from './private-server';
import { ReplicatedPair, startReplicatedPair, stopReplicatedPair } from './replicated-pair';
import { InvocationOutcome, SimulatedEnvironment } from './simulated-environment';
import { RelayTarget, TcpRelay } from './tcp-relay';

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
export type DrillKind = 'switchover' | 'failover' | 'lagging-name' | 'proxy-switchover';

export const DRILL_KINDS: readonly DrillKind[] = [
  'switchover',
  'failover',
  'lagging-name',
  'proxy-switchover',
];

/**
 * The errors a move may cost an invocation: each is named, says nothing was written (or that
 * the write is an idempotent upsert), and says to retry. Any other error fails a drill.
 */
export const RETRYABLE_DURING_A_MOVE: readonly string[] = [
  'DatabaseReadOnlyError',
  'DatabaseNotPrimaryError',
  'DatabaseConnectionLostError',
  'DatabaseUnreachableError',
];

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

export interface DrillResult {
  readonly kind: DrillKind;
  readonly writes: number;
  readonly reads: number;
  readonly acknowledgedWrites: number;
  /** Acknowledged writes missing from the new primary's table at the end. */
  readonly lostWrites: readonly string[];
  /** Reads labelled "primary" older than a write acknowledged before they began. */
  readonly staleReads: readonly string[];
  /** Failed invocations by error name. */
  readonly failures: Readonly<Record<string, number>>;
  /** Failures whose name is not in RETRYABLE_DURING_A_MOVE, with their message. */
  readonly unexpectedFailures: readonly string[];
  /**
   * From the move (the name moved) to the start of the first write after it that was
   * acknowledged, ms: how long writes stayed refused once the name pointed at the new primary.
   */
  readonly writesBackMs: number | null;
  /** From the start of the first refused write to that of the next acknowledged one, ms (0: none refused). */
  readonly writeOutageMs: number;
  /**
   * Writes that started once the move had settled (the new primary writable, the name no longer
   * lagging) and still failed: there must be none, whatever the machine's speed.
   */
  readonly refusedAfterSettling: number;
}

/** Whether the drill held: nothing lost, nothing stale, only retryable errors, writes back within 1 s. */
export function drillProblems(result: DrillResult): string[] {
  const problems: string[] = [];
  if (result.lostWrites.length > 0) problems.push(`lost writes: ${result.lostWrites.join('; ')}`);
  if (result.staleReads.length > 0) problems.push(`stale reads: ${result.staleReads.join('; ')}`);
  if (result.unexpectedFailures.length > 0) {
    problems.push(`errors not named as retryable: ${result.unexpectedFailures.join('; ')}`);
  }
  if (result.writesBackMs === null || result.writesBackMs > 1000) {
    problems.push(`writes not back within 1 s of the move (${result.writesBackMs ?? 'never'} ms)`);
  }
  if (result.refusedAfterSettling > 0) {
    problems.push(`${result.refusedAfterSettling} writes failed after the move had settled`);
  }
  return problems;
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

/** What the functions connect to: a DNS name (the relay), or RDS Proxy (the stand-in). */
interface Endpoint {
  env(role: 'writer' | 'reader'): Record<string, string>;
  /** Sends new connections to `next` (every other one to the old target while lagging). */
  moveTo(next: ServerInfo, lag?: { ms: number; connections: number }): Promise<number>;
  stop(): Promise<void>;
}

async function dnsName(db: AppDatabase, initial: ServerInfo): Promise<Endpoint> {
  const name = await MovableName.start(initial);
  return {
    env: (role) => db.env(role, { port: name.port }),
    moveTo: (next, lag) => name.moveTo(next, lag),
    stop: () => name.stop(),
  };
}

async function proxyEndpoint(db: AppDatabase, target: MovableServer): Promise<Endpoint> {
  const proxied = await startBehindProxy(db);
  return {
    env: (role) => proxied.env(role),
    moveTo: async (next) => {
      target.moveTo(next);
      return performance.now();
    },
    stop: () => proxied.stop(),
  };
}

/**
 * A server whose address can change: what the proxy stand-in reads at each database login
 * (test/support/rds-proxy/database-connection.ts), so it follows a switchover as RDS Proxy does.
 */
class MovableServer implements ServerInfo {
  constructor(private current: ServerInfo) {}

  get host(): string {
    return this.current.host;
  }
  get port(): number {
    return this.current.port;
  }
  get adminUser(): string {
    return this.current.adminUser;
  }
  get adminPassword(): string {
    return this.current.adminPassword;
  }
  get caFile(): string | undefined {
    return this.current.caFile;
  }
  get untrustedCaFile(): string | undefined {
    return this.current.untrustedCaFile;
  }
  get pid(): number | undefined {
    return this.current.pid;
  }
  get dir(): string | undefined {
    return this.current.dir;
  }

  moveTo(next: ServerInfo): void {
    this.current = next;
  }
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
  const at = performance.now();
  const lagging = options.kind === 'lagging-name';
  const lagEnded = name.moveTo(pair.replica, {
    ms: lagging ? (options.laggingMs ?? 1000) : 0,
    connections: lagging ? (options.laggingConnections ?? 0) : 0,
  });
  await promoteGreen();
  const writableAt = performance.now();
  return { at, settled: lagEnded.then((endedAt) => Math.max(endedAt, writableAt)) };
}

/**
 * The endpoint's DNS name: a relay whose target moves. While lagging, every other new
 * connection still resolves to the old target; connections already open stay where they are.
 */
class MovableName {
  private current: RelayTarget;
  private previous: RelayTarget | undefined;
  private lag: { until: number; connections: number; ended: () => void } | undefined;
  private toggle = 0;

  private constructor(
    initial: RelayTarget,
    private relay?: TcpRelay
  ) {
    this.current = initial;
  }

  static async start(initial: ServerInfo): Promise<MovableName> {
    const name = new MovableName({ host: initial.host, port: initial.port });
    name.relay = await TcpRelay.start({ target: () => name.resolve() });
    return name;
  }

  get port(): number {
    return this.relay!.port;
  }

  /**
   * Points the name at `next`. Lagging: every other new connection still goes to the old
   * target until `ms` have passed and `connections` went there. Resolves when the lag ended.
   */
  moveTo(next: ServerInfo, lag = { ms: 0, connections: 0 }): Promise<number> {
    this.previous = this.current;
    this.current = { host: next.host, port: next.port };
    if (lag.ms <= 0 && lag.connections <= 0) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      const ended = () => {
        this.lag = undefined;
        resolve(performance.now());
      };
      this.lag = { until: performance.now() + lag.ms, connections: lag.connections, ended };
      setTimeout(() => this.lagOver(), lag.ms);
    });
  }

  private lagOver(): void {
    if (this.lag && performance.now() >= this.lag.until && this.lag.connections <= 0) {
      this.lag.ended();
    }
  }

  private resolve(): RelayTarget {
    if (this.lag && this.previous && this.toggle++ % 2 === 0) {
      this.lag.connections--;
      this.lagOver();
      return this.previous;
    }
    return this.current;
  }

  stop(): Promise<void> {
    return this.relay!.stop();
  }
}

interface Failure {
  readonly name: string;
  readonly message: string;
}

/**
 * Writers upsert their own emails (three each, a new name every time), readers read any of them,
 * `{ email }` and `{ email, minVersion }` in turn, back to back until stopped. Every read is
 * checked against the ledger as it stood when the read began.
 */
class Load {
  private running = true;
  private readonly ledger = new WriteLedger();
  private readonly emails: string[];
  /** When each completed read started (performance.now() ms). */
  private readonly readStarts: number[] = [];
  private readonly failures: Failure[] = [];
  private readonly staleReads: string[] = [];
  /** [started, acknowledged] of every write, started in performance.now() ms. */
  private readonly writeLog: [number, boolean][] = [];

  constructor(
    private readonly writers: SimulatedEnvironment[],
    private readonly readers: SimulatedEnvironment[]
  ) {
    this.emails = writers.flatMap((_, w) => range(3).map((k) => `w${w}-${k}@drill.example`));
  }

  run(): Promise<unknown> {
    return Promise.all([
      ...this.writers.map((env, w) => this.writeLoop(env, w)),
      ...this.readers.map((env, r) => this.readLoop(env, r)),
    ]);
  }

  /**
   * Resolves once `count` writes were acknowledged and `count` reads completed that started at
   * or after `since`; rejects after HANG_MS (a hang, not a slow machine).
   */
  async progressed(since: number, count: number): Promise<void> {
    const done = () =>
      this.writeLog.filter(([started, ok]) => ok && started >= since).length >= count &&
      this.readStarts.filter((started) => started >= since).length >= count;
    const deadline = performance.now() + HANG_MS;
    while (!done()) {
      if (performance.now() > deadline || !this.running) {
        throw new Error(`the load did not reach ${count} writes and reads within ${HANG_MS} ms`);
      }
      await sleep(10);
    }
  }

  async stop(running: Promise<unknown>): Promise<void> {
    this.running = false;
    await running;
  }

  /** Stops issuing invocations without waiting (a drill that failed). */
  halt(): void {
    this.running = false;
  }

  private async writeLoop(env: SimulatedEnvironment, w: number): Promise<void> {
    for (let seq = 0; this.running; seq++) {
      const email = `w${w}-${seq % 3}@drill.example`;
      const started = performance.now();
      const outcome = await env.invoke<{ user: { version: number; name: string } }>({
        email,
        name: `write ${seq}`,
      });
      this.writeLog.push([started, outcome.ok]);
      if (outcome.ok) {
        this.ledger.acknowledge(email, outcome.result!.user);
      } else {
        this.fail(outcome);
      }
    }
  }

  private async readLoop(env: SimulatedEnvironment, r: number): Promise<void> {
    for (let seq = 0; this.running; seq++) {
      const email = this.emails[(seq * 7 + r) % this.emails.length];
      const expected = this.ledger.expectation(email); // before the read begins
      const event = seq % 2 === 0 || expected === 0 ? { email } : { email, minVersion: expected };
      const started = performance.now();
      const outcome = await env.invoke<{ user: { version: number } | null; servedBy: string }>(
        event
      );
      this.readStarts.push(started);
      if (!outcome.ok) {
        this.fail(outcome);
      } else if (
        outcome.result!.servedBy === 'primary' &&
        this.ledger.checkRead(expected, outcome.result!.user)
      ) {
        this.staleReads.push(
          `${JSON.stringify(event)} after version ${expected} was acknowledged: ` +
            `${JSON.stringify(outcome.result)}`
        );
      }
    }
  }

  private fail(outcome: InvocationOutcome): void {
    this.failures.push({ name: outcome.errorName ?? 'Error', message: outcome.errorMessage ?? '' });
  }

  result(
    kind: DrillKind,
    moved: { at: number; settledAt: number },
    rows: readonly { email: string; version: number }[]
  ): DrillResult {
    const failures: Record<string, number> = {};
    for (const { name } of this.failures) failures[name] = (failures[name] ?? 0) + 1;
    const startOfFirstOk = (after: number) =>
      this.writeLog.find(([started, ok]) => ok && started >= after)?.[0];
    const backAt = startOfFirstOk(moved.at);
    const firstRefused = this.writeLog.find(([, ok]) => !ok)?.[0];
    const outageEnd = firstRefused === undefined ? undefined : startOfFirstOk(firstRefused);
    return {
      kind,
      writes: this.writeLog.length,
      reads: this.readStarts.length,
      acknowledgedWrites: this.writeLog.filter(([, ok]) => ok).length,
      lostWrites: this.ledger
        .lostWrites(rows)
        .map((l) => `${l.email}: version ${l.expected} acknowledged, ${l.found ?? 'no row'} found`),
      staleReads: this.staleReads,
      failures,
      unexpectedFailures: this.failures
        .filter((f) => !RETRYABLE_DURING_A_MOVE.includes(f.name))
        .map((f) => `${f.name}: ${f.message}`),
      writesBackMs: backAt === undefined ? null : Math.round(backAt - moved.at),
      writeOutageMs:
        firstRefused === undefined
          ? 0
          : Math.round((outageEnd ?? performance.now()) - firstRefused),
      refusedAfterSettling: this.writeLog.filter(
        ([started, ok]) => !ok && started >= moved.settledAt
      ).length,
    };
  }
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

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
