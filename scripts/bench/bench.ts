/**
 * `npm run bench`: warm-invocation latency in round trips (behind a 10 ms-each-way proxy, TLS),
 * bundle size and module-init time versus a default NodejsFunction bundle, CPU per invocation
 * and the memory-size and cold-path tables on Lambda-sized CPU shares, `cdk synth` time
 * versus ts-node, and the load test. Saves reports/bench.json and rewrites docs/performance.md's block
 * between `<!-- bench:start -->` and `<!-- bench:end -->`.
 *
 * `npm run bench -- --readme-only` only re-renders the README block from reports/bench.json;
 * `npm run bench -- --cold-path-only [--runs=5]` prints the cold-path table at 256 MB and saves
 * nothing; `npm run bench -- --warm-cpu-only [--invocations=2000]` prints only the client and
 * server CPU per warm invocation (shipped vs. the module-scope connection) and saves nothing.
 */
import * as path from 'node:path';
import { runLoad } from '../load/load-test';
import { updateReadmeFile } from '../lib/readme-block';
import { BENCH_JSON, ROOT, machine, readReport, writeSection } from '../lib/report';
import { measureBundles } from './bundles';
import { measureColdPathOnly, measureCpu, measureWarmCpuOnly } from './cpu';
import { measureLatency } from './latency';
import { BenchReport, readmeBlock } from './readme-table';
import { measureSynth } from './synth';

async function main(): Promise<void> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const started = Date.now();
  if (process.argv.includes('--cold-path-only')) {
    console.table((await measureColdPathOnly({ runs: numberArg('runs', 5) })).rows);
    return;
  }
  if (process.argv.includes('--warm-cpu-only')) {
    const warm = await measureWarmCpuOnly({ invocations: numberArg('invocations', 2000) });
    console.log(`${warm.warmInvocations} warm invocations each; baseline: ${warm.baseline}`);
    console.table(warm.rows);
    return;
  }
  if (!process.argv.includes('--readme-only')) {
    writeSection('latency', await measureLatency());
    writeSection('bundles', await measureBundles());
    writeSection('cpu', await measureCpu());
    writeSection('synth', measureSynth());
    writeSection('load', {
      measuredAt: new Date().toISOString(),
      machine: machine(),
      ...(await runLoad()),
    });
    writeSection('measuredAt', new Date().toISOString());
    writeSection('machine', machine());
    writeSection('benchSeconds', Math.round((Date.now() - started) / 100) / 10);
  }
  const block = readmeBlock(readReport() as BenchReport);
  console.log(`\n${block}\n`);
  console.log(`Saved ${path.relative(process.cwd(), BENCH_JSON)}.`);
  const readme = process.env.BENCH_README ?? path.join(ROOT, 'docs', 'performance.md');
  const { updated, reason } = updateReadmeFile(readme, block);
  console.log(
    updated
      ? `Updated the figures in ${path.relative(process.cwd(), readme)}.`
      : `README not updated: ${reason}`
  );
}

/** `--name=N` from the command line, or `fallback`. */
function numberArg(name: string, fallback: number): number {
  const value = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  return value && /^\d+$/.test(value) ? Number(value) : fallback;
}

main().catch((error: Error) => {
  console.error(`\nbench failed: ${error.stack ?? error.message}`);
  process.exitCode = 1;
});
