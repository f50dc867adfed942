/**
 * `npm run load`: 24 simulated environments (12 writer, 12 reader) invoke back to back for 15 s
 * against a MySQL-compatible server with max_connections 8; checks the goals and saves the
 * figures to .reports/bench.json (reports/ with --update-reports). Exits 1 when a goal is missed.
 */
import { CliSpec, Io, ParsedOptions, exitWith, processIo, runCli } from '../lib/cli';
import { withCleanUp } from '../lib/cleanup';
import { LOCAL_DATABASE_NOTES, requireLocalDatabase } from '../../test/support/prerequisites';
import { UPDATE_REPORTS_OPTION, machine, reportTarget, writeSection } from '../lib/report';
import { loadPassed, loadTable, runLoad } from './load-test';

export const LOAD_CLI: CliSpec = {
  command: 'npm run load',
  summary:
    '24 simulated Lambda environments (12 writer, 12 reader) invoke back to back for 15 s against ' +
    'a server with max_connections 8 (about 30 s). Exit 0: every invocation succeeded, with no lost write, ' +
    'stale read or leaked connection, and the connection peak within the budget; else 1.',
  options: [UPDATE_REPORTS_OPTION],
  notes: LOCAL_DATABASE_NOTES,
};

export function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCli(LOAD_CLI, argv, withCleanUp(load), io);
}

async function load(options: ParsedOptions): Promise<number> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  requireLocalDatabase();
  const result = await runLoad();
  console.log(
    `\n${result.environments} environments (${result.environments / 2} writer, ${result.environments / 2} reader) for ${result.seconds} s on ${result.server}, max_connections ${result.maxConnections}:\n`
  );
  console.log(loadTable(result));
  if (result.failures.length > 0) {
    console.log(`\nFailures:\n${result.failures.map((f) => `  - ${f}`).join('\n')}`);
  }
  const { benchJson } = reportTarget(options['update-reports'] === true);
  writeSection(
    'load',
    { measuredAt: new Date().toISOString(), machine: machine(), ...result },
    benchJson
  );
  return loadPassed(result) ? 0 : 1;
}

if (require.main === module) {
  exitWith('load', main(process.argv.slice(2)));
}
