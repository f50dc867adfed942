/**
 * `npm run load`: simulated environments invoke the writer and the reader back to back for 15 s
 * against a MySQL-compatible server with max_connections 8: directly, as many per function as its
 * reserved concurrency (7 in all, as Lambda would run them), then 24 through the pooling RDS Proxy
 * stand-in (a pool of 4); checks the goals and saves the figures to .reports/bench.json
 * (reports/ with --update-reports). Exits 1 when a goal is missed.
 */
import { CliSpec, Io, ParsedOptions, exitWith, processIo, runCli } from '../lib/cli';
import { withCleanUp } from '../lib/cleanup';
import { LOCAL_DATABASE_NOTES, requireLocalDatabase } from '../../test/support/prerequisites';
import { UPDATE_REPORTS_OPTION, machine, reportTarget, writeSection } from '../lib/report';
import {
  LoadResult,
  environmentsOf,
  loadComparisonTable,
  loadPassed,
  loadTable,
  runLoad,
} from './load-test';

export const LOAD_CLI: CliSpec = {
  command: 'npm run load',
  summary:
    'Simulated Lambda environments invoke the writer and the reader back to back for 15 s against ' +
    'a server with max_connections 8: directly, as many per function as its reserved concurrency ' +
    '(7 in all), then 24 through the pooling RDS Proxy stand-in (about 1 min). Exit 0: directly, ' +
    'every invocation succeeded; through the proxy, every failure was a named error within the ' +
    'invocation budget and wrote nothing; both with no lost write, stale read or session left ' +
    'behind, and the connection peak within the budget; else 1.',
  options: [UPDATE_REPORTS_OPTION],
  notes: LOCAL_DATABASE_NOTES,
};

export function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCli(LOAD_CLI, argv, withCleanUp(load), io);
}

async function load(options: ParsedOptions): Promise<number> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  requireLocalDatabase();
  const { benchJson } = reportTarget(options['update-reports'] === true);
  const save = (section: string, result: LoadResult) =>
    writeSection(
      section,
      { measuredAt: new Date().toISOString(), machine: machine(), ...result },
      benchJson
    );
  const direct = await runLoad();
  report(direct);
  save('load', direct);
  const proxied = await runLoad({ route: 'through RDS Proxy' });
  report(proxied);
  save('loadThroughProxy', proxied);
  console.log(`\nSide by side:\n\n${loadComparisonTable(direct, proxied)}`);
  return loadPassed(direct) && loadPassed(proxied) ? 0 : 1;
}

function report(result: LoadResult): void {
  console.log(
    `\n${result.route}: ${environmentsOf(result)} for ${result.seconds} s on ${result.server}, max_connections ${result.maxConnections}:\n`
  );
  console.log(loadTable(result));
  if (result.failures.length > 0) {
    console.log(`\nFailures:\n${result.failures.map((f) => `  - ${f}`).join('\n')}`);
  }
}

if (require.main === module) {
  exitWith('load', main(process.argv.slice(2)));
}
