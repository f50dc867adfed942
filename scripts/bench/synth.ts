import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Progress } from '../lib/progress';
import { ROOT } from '../lib/report';
import { median, ratio, round } from '../lib/stats';
import { temporaryDirectory } from '../lib/cleanup';

export interface SynthResult {
  readonly runs: number;
  /** cdk.json's app command. */
  readonly app: string;
  readonly appSeconds: number;
  /** `cdk init`'s default app command, the baseline. */
  readonly baseline: string;
  readonly baselineSeconds: number;
  /** appSeconds / baselineSeconds. */
  readonly ratio: number;
}

const APP = 'npx tsx bin/app.ts';
const BASELINE = 'npx ts-node --prefer-ts-exts bin/app.ts';
/**
 * ts-node compiles with tsconfig.json, whose `module: preserve` (for the handlers' top-level
 * await) it would emit as ES modules that Node cannot resolve without extensions; `cdk init`'s
 * own tsconfig compiles to CommonJS, so the baseline runs as that one would.
 */
const BASELINE_ENV = {
  TS_NODE_COMPILER_OPTIONS: JSON.stringify({ module: 'commonjs', moduleResolution: 'node' }),
};

function synthSeconds(app: string, extraEnv: Record<string, string> = {}): number {
  const { dir: out, dispose } = temporaryDirectory('bench-synth-');
  const started = process.hrtime.bigint();
  try {
    execFileSync(
      path.join(ROOT, 'node_modules', '.bin', 'cdk'),
      ['synth', '--quiet', '--no-notices', '--no-version-reporting', '--app', app, '--output', out],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          ...extraEnv,
          AWS_EC2_METADATA_DISABLED: 'true',
          CDK_DISABLE_VERSION_CHECK: '1',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 180_000,
      }
    );
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').slice(-800);
    throw new Error(`cdk synth with "${app}" failed: ${stderr || (error as Error).message}`);
  } finally {
    dispose();
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** `cdk synth` (offline, bundling included) with tsx, as cdk.json runs it, versus ts-node. */
export function measureSynth(
  { runs = 2 } = {},
  progress = new Progress('bench synth')
): SynthResult {
  const times = { app: [] as number[], baseline: [] as number[] };
  for (let i = 0; i < runs; i++) {
    progress.update(`cdk synth with tsx, run ${i + 1} of ${runs}`);
    times.app.push(synthSeconds(APP));
    progress.update(`cdk synth with ts-node, run ${i + 1} of ${runs}`);
    times.baseline.push(synthSeconds(BASELINE, BASELINE_ENV));
  }
  progress.done('synth measured');
  const appSeconds = round(median(times.app));
  const baselineSeconds = round(median(times.baseline));
  return {
    runs,
    app: APP,
    appSeconds,
    baseline: BASELINE,
    baselineSeconds,
    ratio: round(ratio(appSeconds, baselineSeconds)),
  };
}
