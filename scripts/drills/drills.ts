/**
 * `npm run drills`: the switchover, failover and lagging-name drills of
 * test/support/switchover-drill.ts with longer phases than `npm test` runs them; prints the
 * figures, saves them to .reports/bench.json (reports/bench.json and docs/operations.md with
 * --update-reports). Exits 1 when a drill did not hold.
 */
import * as path from 'node:path';
import { buildRunBundles } from '../lib/bundles';
import { CliSpec, Io, ParsedOptions, exitWith, processIo, runCli } from '../lib/cli';
import { withCleanUp } from '../lib/cleanup';
import { updateReadmeFile } from '../lib/readme-block';
import {
  ROOT,
  UPDATE_REPORTS_OPTION,
  machine,
  readReport,
  reportTarget,
  writeSection,
} from '../lib/report';
import { findMariadb } from '../../test/support/prerequisites';
import {
  DRILL_KINDS,
  DrillResult,
  drillProblems,
  runDrill,
} from '../../test/support/switchover-drill';
import { DrillsReport, drillsBlock } from './drills-table';

export const DRILLS_CLI: CliSpec = {
  command: 'npm run drills',
  summary:
    'Moves the primary endpoint under load (4 writer and 2 reader environments of the bundled ' +
    'handlers): a blue/green switchover, a failover, a switchover whose name lags for 2 s, and ' +
    'a switchover behind the RDS Proxy stand-in (a few minutes). Exit 0: no acknowledged write lost, no stale read, only retryable errors, ' +
    'writes back within 1 s of each move; else 1.',
  options: [
    UPDATE_REPORTS_OPTION,
    {
      name: 'readme-only',
      help: 'Only rewrite the docs/operations.md block from reports/bench.json; run no drill.',
    },
  ],
  notes: [
    'Needs mariadbd and mariadb-install-db (a primary and a GTID replica are started per drill);',
    'a DATABASE_URL of your own is not used.',
  ],
};

/** The phases of the published figures (npm test runs shorter ones). */
export const DRILL_PHASES = {
  writers: 4,
  readers: 2,
  beforeMs: 2000,
  afterMs: 3000,
  laggingMs: 2000,
  promoteAfterMs: 300,
} as const;

/** The block of docs/operations.md the figures go to. */
export const OPERATIONS_DOC = path.join(ROOT, 'docs', 'operations.md');
export const DRILLS_BLOCK = 'switchover-drills';

export function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCli(
    DRILLS_CLI,
    argv,
    withCleanUp((options) => drills(options, io)),
    io
  );
}

async function drills(options: ParsedOptions, io: Io): Promise<number> {
  if (options['readme-only']) {
    const report = readReport(reportTarget(true).benchJson).drills as DrillsReport | undefined;
    if (!report) {
      io.err('reports/bench.json has no drills section: run npm run drills -- --update-reports.');
      return 1;
    }
    const { updated, reason } = updateReadmeFile(OPERATIONS_DOC, drillsBlock(report), DRILLS_BLOCK);
    io.out(updated ? 'Updated docs/operations.md.' : `Not updated: ${reason}`);
    return updated ? 0 : 1;
  }
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  findMariadb(); // a missing MariaDB is one line that says what to install
  const bundles = await buildRunBundles();
  const results: DrillResult[] = [];
  try {
    for (const kind of DRILL_KINDS) {
      io.out(`Drill: ${kind} ...`);
      results.push(
        await runDrill({
          kind,
          bundles: { writer: bundles.handlers.writer.file, reader: bundles.handlers.reader.file },
          ...DRILL_PHASES,
        })
      );
    }
  } finally {
    bundles.dispose();
  }
  const report: DrillsReport = {
    measuredAt: new Date().toISOString(),
    machine: machine(),
    ...DRILL_PHASES,
    results,
  };
  const block = drillsBlock(report);
  io.out(`\n${block}\n`);
  const problems = results.flatMap((r) => drillProblems(r).map((p) => `${r.kind}: ${p}`));
  if (problems.length > 0) {
    io.err(`Drills that did not hold:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  // Figures of a drill that did not hold are kept in .reports/ only, never published.
  const update = options['update-reports'] === true && problems.length === 0;
  writeSection('drills', report, reportTarget(update).benchJson);
  if (update) {
    const { updated, reason } = updateReadmeFile(OPERATIONS_DOC, block, DRILLS_BLOCK);
    io.out(
      updated ? 'Updated reports/bench.json and docs/operations.md.' : `Not updated: ${reason}`
    );
  }
  return problems.length === 0 ? 0 : 1;
}

if (require.main === module) {
  exitWith('drills', main(process.argv.slice(2)));
}
