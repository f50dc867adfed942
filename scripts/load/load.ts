/**
 * `npm run load`: 24 simulated environments (12 writer, 12 reader) invoke back to back for 15 s
 * against a private mariadbd (TLS) with max_connections 8; checks the goals and saves the
 * figures to reports/bench.json (section "load"). Exits 1 when a goal is missed.
 */
import { machine, writeSection } from '../lib/report';
import { loadPassed, loadTable, runLoad } from './load-test';

async function main(): Promise<void> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const result = await runLoad();
  console.log(
    `\n${result.environments} environments (${result.environments / 2} writer, ${result.environments / 2} reader) for ${result.seconds} s on ${result.server}, max_connections ${result.maxConnections}:\n`
  );
  console.log(loadTable(result));
  if (result.failures.length > 0) {
    console.log(`\nFailures:\n${result.failures.map((f) => `  - ${f}`).join('\n')}`);
  }
  writeSection('load', { measuredAt: new Date().toISOString(), machine: machine(), ...result });
  if (!loadPassed(result)) {
    process.exitCode = 1;
  }
}

main().catch((error: Error) => {
  console.error(`\nload failed: ${error.stack ?? error.message}`);
  process.exitCode = 1;
});
