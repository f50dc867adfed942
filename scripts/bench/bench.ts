/**
 * `npm run bench`: warm-invocation latency in round trips (behind a 10 ms-each-way proxy, TLS),
 * bundle size and module-init time versus a default NodejsFunction bundle, CPU per invocation
 * and the memory-size and cold-path tables on Lambda-sized CPU shares, `cdk synth` time
 * versus ts-node, and the load test. `npm run bench -- --help` lists the options.
 *
 * Figures go to .reports/bench.json; with --update-reports, and only when every check of the
 * run passed, to reports/bench.json and docs/performance.md's block between `<!-- bench:start -->` and
 * `<!-- bench:end -->`.
 */
import * as path from 'node:path';
import { loadPassed, runLoad } from '../load/load-test';
import {
  CliSpec,
  Io,
  ParsedOptions,
  UsageError,
  exitWith,
  processIo,
  runCli,
  wholeNumber,
} from '../lib/cli';
import { withCleanUp } from '../lib/cleanup';
import { LOCAL_DATABASE_NOTES, requireLocalDatabase } from '../../test/support/prerequisites';
import { updateReadmeFile } from '../lib/readme-block';
import {
  BENCH_JSON,
  ROOT,
  UPDATE_REPORTS_OPTION,
  machine,
  readReport,
  reportTarget,
  writeSection,
} from '../lib/report';
import { measureBundles } from './bundles';
import { measureCpu } from './cpu';
import { measureLatency } from './latency';
import { BenchReport, firstInvocationParts, readmeBlock } from './readme-table';
import { buildRevisionHandlers } from './revision-bundles';
import { measureSynth } from './synth';
import type { FirstInvocationResult } from './first-invocation';

export const BENCH_CLI: CliSpec = {
  command: 'npm run bench',
  summary:
    'Measures warm-invocation round trips and latency behind a proxy, bundle size and init time, ' +
    'CPU per invocation, `cdk synth` time and the load test (about 3 min), then prints the ' +
    'performance block of docs/performance.md. Exit 1 when any of its checks does not pass: nothing is published then.',
  options: [
    UPDATE_REPORTS_OPTION,
    {
      name: 'readme-only',
      help: "Only re-render docs/performance.md's block from the committed reports/bench.json.",
    },
    {
      name: 'cold-path-only',
      help: 'Only print the cold-path table at 256 MB (saves nothing).',
    },
    {
      name: 'first-invocation-only',
      help:
        'Only measure the first-invocation table (128 to 1024 MB, ~10 min, half as long again ' +
        'with --against); with --update-reports, ' +
        'publish it alone into the committed report and the block.',
    },
    {
      name: 'against',
      value: 'REVISION',
      help:
        'With --first-invocation-only: also measure the writer and reader of REVISION (a commit, ' +
        "branch or tag, built with today's node_modules) and compare every row with it.",
    },
    {
      name: 'runs',
      value: 'N',
      help: 'Runs per row with --cold-path-only (default 5) or --first-invocation-only (default 3).',
    },
    {
      name: 'warm-cpu-only',
      help: 'Only print client and server CPU per warm invocation (saves nothing).',
    },
    {
      name: 'invocations',
      value: 'N',
      help: 'Warm invocations per row with --warm-cpu-only (default 2000).',
    },
  ],
  notes: LOCAL_DATABASE_NOTES,
};

export function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCli(
    BENCH_CLI,
    argv,
    withCleanUp((options: ParsedOptions) => bench(options, io)),
    io
  );
}

async function bench(options: ParsedOptions, io: Io = processIo): Promise<number> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const started = Date.now();
  const readme = process.env.BENCH_README ?? path.join(ROOT, 'docs', 'performance.md');
  if (options.against !== undefined && !options['first-invocation-only']) {
    throw new UsageError(
      '--against compares the first-invocation table only: add --first-invocation-only.'
    );
  }
  if (options['readme-only']) {
    return publish({}, [], { update: true, committedJson: BENCH_JSON, readme, io });
  }
  const runs = wholeNumber(options, 'runs', options['first-invocation-only'] ? 3 : 5);
  const invocations = wholeNumber(options, 'invocations', 2000);
  requireLocalDatabase();
  if (options['cold-path-only']) {
    console.table((await measureCpu({ tables: 'cold-path', coldPathRuns: runs })).coldPath?.rows);
    return 0;
  }
  if (options['first-invocation-only']) {
    const against =
      typeof options.against === 'string' ? buildRevisionHandlers(options.against) : undefined;
    if (against?.otherLockfile) {
      io.err(
        `${against.revision}'s package-lock.json differs from this checkout's: its handlers were ` +
          "built with this checkout's packages (the table's legend says so)."
      );
    }
    let firstInvocation: FirstInvocationResult | undefined;
    try {
      ({ firstInvocation } = await measureCpu({
        tables: 'first-invocation',
        firstInvocationRuns: runs,
        against,
      }));
    } finally {
      against?.dispose();
    }
    if (options['update-reports'] !== true) {
      io.out(firstInvocationParts(firstInvocation!).join('\n\n'));
      return 0;
    }
    // Only this table is new: the rest of the CPU section stays as last measured.
    const cpu = { ...(readReport(BENCH_JSON).cpu as object), firstInvocation };
    return publish({ cpu }, [], { update: true, committedJson: BENCH_JSON, readme, io });
  }
  if (options['warm-cpu-only']) {
    const warm = await measureCpu({ tables: 'warm', warmInvocations: invocations });
    io.out(`${warm.warmInvocations} warm invocations each; baseline: ${warm.baseline}`);
    console.table(warm.rows);
    return 0;
  }
  // Each section is saved as soon as it is measured (.reports/bench.json), for a look after a failure.
  const scratch = reportTarget(false).benchJson;
  const measured: Record<string, unknown> = {};
  const save = (section: string, value: unknown) => {
    measured[section] = value;
    writeSection(section, value, scratch);
  };
  save('latency', await measureLatency());
  save('bundles', await measureBundles());
  save('cpu', await measureCpu());
  save('synth', measureSynth());
  const load = await runLoad();
  save('load', { measuredAt: new Date().toISOString(), machine: machine(), ...load });
  const loadThroughProxy = await runLoad({ route: 'through RDS Proxy' });
  save('loadThroughProxy', { measuredAt: new Date().toISOString(), ...loadThroughProxy });
  save('measuredAt', new Date().toISOString());
  save('machine', machine());
  save('benchSeconds', Math.round((Date.now() - started) / 100) / 10);
  const proxyProblems = loadPassed(loadThroughProxy)
    ? []
    : [
        `the load phase through the RDS Proxy stand-in missed its goals (${JSON.stringify(loadThroughProxy.failuresByName)}, ` +
          `${loadThroughProxy.writesOfFailedInvocations} writes of failed invocations, ` +
          `${loadThroughProxy.connectionsLeftAfterRun} sessions left in a transaction or running)`,
      ];
  const problems = loadPassed(load)
    ? proxyProblems
    : [
        ...proxyProblems,
        `the load phase missed its goals (${load.failedInvocations} of ${load.invocations} ` +
          `invocations failed, peak ${load.peakFunctionConnections} connections against a ` +
          `budget of ${load.connectionBudget}, ${load.lostWrites} lost writes, ${load.staleReads} ` +
          `stale reads, ${load.connectionsLeftAfterRun} connections left)`,
      ];
  return publish(measured, problems, {
    update: options['update-reports'] === true,
    committedJson: BENCH_JSON,
    readme,
    io,
  });
}

export interface PublishOptions {
  /** Write the committed report and the README block (--update-reports). */
  readonly update: boolean;
  readonly committedJson: string;
  readonly readme: string;
  readonly io: Io;
}

/**
 * Prints the figures' block and, when asked and only when `problems` is empty, writes the
 * measured sections to the committed report and the block to the README. Returns the exit code:
 * 1 when a check failed or the README could not be updated.
 */
export function publish(
  measured: Record<string, unknown>,
  problems: readonly string[],
  { update, committedJson, readme, io }: PublishOptions
): number {
  const relative = (file: string) => path.relative(process.cwd(), file);
  if (problems.length > 0) {
    io.err(
      `\nNot publishing these figures: ${problems.join('; ')}. They are in ` +
        `${relative(reportTarget(false).benchJson)}; reports/ and the README are unchanged.`
    );
    return 1;
  }
  const block = readmeBlock({ ...readReport(committedJson), ...measured } as BenchReport);
  io.out(`\n${block}\n`);
  if (!update) {
    io.out(
      `Saved ${relative(reportTarget(false).benchJson)}. reports/ and the README are unchanged: ` +
        'run with --update-reports to publish these figures.'
    );
    return 0;
  }
  for (const [section, value] of Object.entries(measured)) {
    writeSection(section, value, committedJson);
  }
  const { updated, reason } = updateReadmeFile(readme, block);
  io.out(
    updated
      ? `Updated ${relative(committedJson)} and the figures in ${relative(readme)}.`
      : `README not updated: ${reason}`
  );
  return updated ? 0 : 1;
}

if (require.main === module) {
  exitWith('bench', main(process.argv.slice(2)));
}
