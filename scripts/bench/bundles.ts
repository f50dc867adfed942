import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HANDLERS, HandlerName } from '../../test/support/bundle';
import { buildDefault, buildRunBundles } from '../lib/bundles';
import { Progress } from '../lib/progress';
import { ROOT } from '../lib/report';
import { median, ratio, round } from '../lib/stats';
import { temporaryDirectory } from '../lib/cleanup';

export interface BundleRow {
  readonly handler: HandlerName;
  /** The shipped bundle (lib/lambda-bundling.ts): ES module, syntax-minified, aliases, map beside it. */
  readonly shippedBytes: number;
  readonly shippedMapBytes: number;
  /** esbuild with NodejsFunction's defaults: not minified, no source map, no aliases, @aws-sdk/* external. */
  readonly defaultBytes: number;
  /** shippedBytes / defaultBytes. */
  readonly sizeRatio: number;
  /** Median time to load the bundle in a fresh node process (module init). */
  readonly shippedInitMs: number;
  /** The shipped bundle with --enable-source-maps, to show what run-time source maps cost. */
  readonly shippedWithSourceMapsInitMs: number;
  readonly defaultInitMs: number;
  /** shippedInitMs / defaultInitMs. */
  readonly initRatio: number;
}

export interface BundleResult {
  readonly runs: number;
  readonly shippedNodeOptions: string;
  readonly rows: BundleRow[];
}

/** Milliseconds to load `file` in a fresh process, as the Lambda runtime does at init. */
function initTime(file: string, nodeOptions: string): number {
  // No database configured: the handlers' init-phase credential read is skipped (runtime.ts).
  const loader = JSON.stringify(
    pathToFileURL(path.join(ROOT, 'test', 'support', 'load-handler.mjs')).href
  );
  const script = `const t=performance.now();const{loadHandler}=await import(${loader});await loadHandler(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t))`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      PATH: process.env.PATH,
      NODE_PATH: path.join(ROOT, 'node_modules'),
      NODE_OPTIONS: nodeOptions,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return Number(out);
}

/**
 * Bundle size and module-init time of each handler, shipped options versus NodejsFunction's
 * defaults, measured alternately in the same run so machine noise hits both alike.
 */
export async function measureBundles(
  { runs = 15 } = {},
  progress = new Progress('bench bundles')
): Promise<BundleResult> {
  progress.update('bundling');
  const { dir, dispose } = temporaryDirectory('bench-default-');
  const shipped = await buildRunBundles();
  const shippedNodeOptions = ''; // lib/data-function.ts sets no NODE_OPTIONS
  try {
    const rows: BundleRow[] = [];
    for (const handler of Object.keys(HANDLERS) as HandlerName[]) {
      const defaultFile = path.join(dir, handler, 'index.js');
      await buildDefault(HANDLERS[handler], defaultFile);
      const shippedFile = shipped.handlers[handler].file;
      const times = { shipped: [] as number[], withMaps: [] as number[], default: [] as number[] };
      for (let i = 0; i < runs; i++) {
        progress.update(`${handler}: init time run ${i + 1} of ${runs}`);
        times.shipped.push(initTime(shippedFile, shippedNodeOptions));
        times.withMaps.push(initTime(shippedFile, '--enable-source-maps'));
        times.default.push(initTime(defaultFile, ''));
      }
      const shippedBytes = statSync(shippedFile).size;
      const defaultBytes = statSync(defaultFile).size;
      const shippedInitMs = round(median(times.shipped));
      const defaultInitMs = round(median(times.default));
      rows.push({
        handler,
        shippedBytes,
        shippedMapBytes: statSync(`${shippedFile}.map`).size,
        defaultBytes,
        sizeRatio: round(ratio(shippedBytes, defaultBytes), 3),
        shippedInitMs,
        shippedWithSourceMapsInitMs: round(median(times.withMaps)),
        defaultInitMs,
        initRatio: round(ratio(shippedInitMs, defaultInitMs), 3),
      });
    }
    progress.done('bundles measured');
    return { runs, shippedNodeOptions, rows };
  } finally {
    shipped.dispose();
    dispose();
  }
}
