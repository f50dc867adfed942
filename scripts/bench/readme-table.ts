import { LoadResult, environmentsOf, loadComparisonTable, loadTable } from '../load/load-test';
import { PatternResult, demoTable } from '../demo/tally';
import { formatBytes, formatRatio } from '../lib/stats';
import { formatMarkdownTable } from '../lib/table';
import type { BundleResult } from './bundles';
import type { CpuResult } from './cpu';
import type { FirstInvocationResult } from './first-invocation';
import type { LatencyResult } from './latency';
import type { SynthResult } from './synth';

/** reports/bench.json: one section per command; any may be missing. */
export interface BenchReport {
  readonly latency?: LatencyResult;
  readonly bundles?: BundleResult;
  readonly cpu?: CpuResult;
  readonly synth?: SynthResult;
  readonly load?: LoadResult & { measuredAt?: string; machine?: Record<string, string | number> };
  readonly loadThroughProxy?: LoadResult & { measuredAt?: string };
  readonly demo?: { antiPattern: PatternResult; shipped: PatternResult; frozenSeconds: number };
  readonly measuredAt?: string;
  readonly machine?: Record<string, string | number>;
}

/**
 * The markdown that goes between the README's bench markers: the latest figures from
 * reports/bench.json and the commands that reproduce them. Sections that were never measured
 * are left out rather than shown as zeros.
 */
export function readmeBlock(report: BenchReport): string {
  const parts: string[] = [];
  const m = report.machine;
  parts.push(
    `Measured ${report.measuredAt ? report.measuredAt.slice(0, 10) : '(date unknown)'}` +
      (m ? ` on ${m.cpus} × ${m.cpuModel}, Node.js ${m.node}` : '') +
      '. Each figure is a ratio against a baseline measured in the same run. ' +
      'Reproduce with `npm run bench` (all of it, rewrites this block from `reports/bench.json`), `npm run load`, `npm run demo`.'
  );
  if (report.latency) {
    const l = report.latency;
    parts.push(
      `**Warm invocation latency** behind a proxy adding ${l.oneWayMs} ms each way (one round trip = ${2 * l.oneWayMs} ms), ` +
        `${l.tls ? 'TLS' : 'no TLS'}, median of ${l.iterations}:`,
      formatMarkdownTable(
        ['invocation', 'round trips (incl. TCP handshake)', 'median', 'vs baseline'],
        l.rows.map((r) => [
          r.label,
          r.roundTrips,
          `${r.medianMs.toFixed(1)} ms`,
          formatRatio(r.ratio),
        ])
      )
    );
  }
  if (report.bundles) {
    const b = report.bundles;
    parts.push(
      `**Bundles and module init** (median time to load the bundle in a fresh process with no database configured, so without the init-phase secret read, ${b.runs} runs), shipped options (ES module, AWS SDK inside) vs. a default \`NodejsFunction\` bundle of the same code (CommonJS, AWS SDK loaded from the runtime's copy, which its size leaves out):`,
      formatMarkdownTable(
        [
          'function',
          'shipped (+ .map)',
          'default',
          'size',
          'init shipped',
          'init shipped with --enable-source-maps',
          'init default',
          'init',
        ],
        b.rows.map((r) => [
          r.handler,
          `${formatBytes(r.shippedBytes)} (+ ${formatBytes(r.shippedMapBytes)})`,
          formatBytes(r.defaultBytes),
          formatRatio(r.sizeRatio),
          `${r.shippedInitMs.toFixed(1)} ms`,
          `${r.shippedWithSourceMapsInitMs.toFixed(1)} ms`,
          `${r.defaultInitMs.toFixed(1)} ms`,
          formatRatio(r.initRatio),
        ])
      )
    );
  }
  if (report.cpu) {
    parts.push(...cpuParts(report.cpu));
  }
  if (report.synth) {
    const s = report.synth;
    parts.push(
      `**\`cdk synth\`** (offline, bundling included, median of ${s.runs}): \`${s.app}\` ${s.appSeconds.toFixed(1)} s vs. \`${s.baseline}\` ${s.baselineSeconds.toFixed(1)} s: ${formatRatio(s.ratio)}.`
    );
  }
  if (report.load) {
    const l = report.load;
    parts.push(
      `**Load** (\`npm run load\`): ${environmentsOf(l)}, simulated, for ${l.seconds} s against max_connections ${l.maxConnections}, TLS:`,
      loadTable(l, formatMarkdownTable)
    );
    const p = report.loadThroughProxy;
    if (p) {
      parts.push(
        `**Load through the RDS Proxy stand-in** (\`npm run load\`, test/support/rds-proxy): ${environmentsOf(p)} for ${p.seconds} s through a pool of ${p.poolConnections} database connections (borrow timeout as shipped), beside the direct run (1-minute load average at the end of each run: ${l.loadAverage ?? '?'} and ${p.loadAverage ?? '?'} on ${l.machine?.cpus ?? '?'} CPUs):`,
        loadComparisonTable(l, p, formatMarkdownTable)
      );
    }
  }
  if (report.demo) {
    const { antiPattern, shipped, frozenSeconds } = report.demo;
    parts.push(
      '**Demo** (`npm run demo`):',
      demoTable(antiPattern, shipped, frozenSeconds, formatMarkdownTable)
    );
  }
  return parts.join('\n\n');
}

/** The CPU, memory-size and cold-path tables of `npm run bench` (scripts/bench/cpu.ts). */
export function cpuParts(cpu: CpuResult): string[] {
  const ms = (value: number) => `${value.toFixed(value >= 10 ? 0 : 2)} ms`;
  const parts = [
    `**CPU per warm invocation** (reader, TLS, full CPU, ${cpu.warmInvocations} invocations per environment taking turns, user + system time from \`/proc\`):`,
    formatMarkdownTable(
      ['invocation', 'client CPU', 'vs baseline', 'server CPU', 'vs baseline'],
      cpu.rows.map((r) => [
        r.label,
        ms(r.clientCpuMs),
        formatRatio(r.clientRatio),
        Number.isFinite(r.serverCpuMs) ? ms(r.serverCpuMs) : 'n/a',
        formatRatio(r.serverRatio),
      ])
    ),
  ];
  if (cpu.skipped || !cpu.memory || !cpu.coldPath) {
    parts.push(`Memory-size and cold-path tables skipped: ${cpu.skipped ?? 'not measured'}.`);
    return parts;
  }
  const { memory, coldPath } = cpu;
  parts.push(
    `**Memory size**: each simulated environment runs its invocations in a cgroup CPU quota of memory / 1769 MB of one CPU, as Lambda allocates it (an x86 share only approximates Graviton); init runs on ${memory.initOn === 'share' ? 'the share' : "a full vCPU, as Lambda runs an on-demand function's init"}. Init and first invocation: median of ${memory.coldEnvironments} cold environments; warm: ${memory.warmInvocations} invocations. Cost: GB-seconds of the warm invocations plus requests, ${memory.price}:`,
    formatMarkdownTable(
      [
        'memory',
        'CPU share',
        'init',
        'first invocation',
        'warm p50',
        'warm p90',
        'USD per million',
      ],
      memory.rows.map((r) => [
        `${r.memoryMb} MB`,
        `${(r.cpus * 100).toFixed(1)} %`,
        ms(r.initMs),
        ms(r.firstInvocationMs),
        ms(r.warmP50Ms),
        ms(r.warmP90Ms),
        `$${r.costPerMillionUsd.toFixed(3)}`,
      ])
    ),
    `**Cold path at ${coldPath.memoryMb} MB** (module init + first invocation, secret read from a local endpoint over ${coldPath.secretsEndpoint}, median of ${coldPath.runs}, builds taking turns). Init on a full vCPU is how Lambda runs an on-demand function's init; init on the share is the worst case, and how a function without that allowance would fare:`,
    formatMarkdownTable(
      ['build', 'init on', 'init', 'first invocation', 'cold path', 'vs baseline'],
      coldPath.rows.map((r) => [
        r.label,
        r.initOn,
        ms(r.initMs),
        ms(r.firstInvocationMs),
        ms(r.coldMs),
        formatRatio(r.ratio),
      ])
    ),
    `Building the TLS context once per environment at ${coldPath.memoryMb} MB: ` +
      coldPath.tlsContext
        .map(
          (t) =>
            `${t.trust}, ${t.certificates} certificate${t.certificates === 1 ? '' : 's'}: ${ms(t.cpuMs)} CPU`
        )
        .join('; ') +
      '.'
  );
  if (cpu.firstInvocation) {
    parts.push(...firstInvocationParts(cpu.firstInvocation));
  }
  return parts;
}

/**
 * The first-invocation table (scripts/bench/first-invocation.ts): per memory size, function and
 * init model, the shipped build (init prepares the data path) and the same build without the
 * preparation (DB_PREPARE_AT_INIT=false: init reads the secret only, as before).
 */
export function firstInvocationParts(result: FirstInvocationResult): string[] {
  const ms = (value: number) => `${value.toFixed(value >= 10 ? 0 : 1)} ms`;
  const against = result.against;
  const vsRevision = against ? `vs ${against.revision}` : '';
  return [
    `**First invocation vs. warm, per memory size** (measured ${result.measuredAt.slice(0, 10)}; the same environment's first invocation against the median of its next ${result.warmInvocations}; median of ${result.runs} fresh environments per row, rows taking turns). _prepared_: the shipped init, which runs the data path once on a connection it closes; _not prepared_: the same bundle with \`DB_PREPARE_AT_INIT=false\`, whose init only reads the secret (as before the preparation). Init on the _full vCPU_ rests on AWS's and third-party statements that on-demand init runs unthrottled, not on a measurement of Lambda; _share_: init on the share and the first request right after, the worst case; _share, first request later_: as a provisioned-concurrency environment initialises, its first request ${result.firstRequestLaterMs ?? '?'} ms later; _TLS session expired_: the same, and the server forgot its TLS sessions (FLUSH SSL) in between, as after a long wait for the first request. _CPU_: the environment's user + system time from the start of its init to its first reply, which a share stretches into wall time; it moves from run to run too (by up to a tenth on a busy shared machine), less than the wall times${against ? `. _as at ${against.revision}_: the writer and reader of ${against.commit.startsWith(against.revision) || against.revision.startsWith(against.commit) ? against.revision : `${against.revision} (commit ${against.commit})`} as that revision built and initialised them, with this checkout's packages${against.otherLockfile ? ' (its package-lock.json differs)' : ''}, measured in the same run (\`npm run bench -- --first-invocation-only --against=${against.revision}\`); the _${vsRevision}_ columns compare each row with it` : ''}:`,
    formatMarkdownTable(
      [
        'memory',
        'function',
        'init on',
        'build',
        'init',
        'first invocation',
        'warm',
        'first / warm',
        'init + first',
        'vs not prepared',
        'init + first, CPU',
        'CPU vs not prepared',
        ...(against ? [vsRevision, `CPU ${vsRevision}`] : []),
      ],
      result.rows.map((r) => [
        `${r.memoryMb} MB`,
        r.handler,
        r.initOn,
        r.revision ? `as at ${r.revision}` : r.prepared ? 'prepared' : 'not prepared',
        ms(r.initMs),
        ms(r.firstInvocationMs),
        ms(r.warmMs),
        formatRatio(r.firstVsWarm),
        ms(r.coldMs),
        // The other revision's rows compare with themselves, not with today's build unprepared.
        r.revision ? '–' : formatRatio(r.coldVsUnprepared),
        r.coldCpuMs === undefined ? '–' : ms(r.coldCpuMs),
        r.revision ? '–' : optionalRatio(r.coldCpuVsUnprepared),
        ...(against ? [optionalRatio(r.coldVsRevision), optionalRatio(r.coldCpuVsRevision)] : []),
      ])
    ),
  ];
}

function optionalRatio(value: number | undefined): string {
  return value === undefined ? '–' : formatRatio(value);
}
