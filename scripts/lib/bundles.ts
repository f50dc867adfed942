import * as path from 'node:path';
import { build } from 'esbuild';
import { BuiltHandler, HandlerName, buildHandlers } from '../../test/support/bundle';
import { temporaryDirectory } from './cleanup';
import { ROOT } from './report';

export interface RunBundles {
  /** The shipped handlers, built with the shipped options (lib/lambda-bundling.ts). */
  readonly handlers: Record<HandlerName, BuiltHandler>;
  /** The anti-pattern, test/support/module-scope-handler.ts, bundled as a CommonJS handler. */
  readonly antiPattern?: string;
  dispose(): void;
}

/** Builds the bundles a run needs into a temporary directory. */
export async function buildRunBundles({ antiPattern = false } = {}): Promise<RunBundles> {
  const { dir, dispose } = temporaryDirectory('lambda-rds-run-');
  const handlers = await buildHandlers(path.join(dir, 'bundles'));
  let antiPatternFile: string | undefined;
  if (antiPattern) {
    antiPatternFile = path.join(dir, 'anti-pattern', 'index.js');
    await build({
      entryPoints: [path.join(ROOT, 'test', 'support', 'module-scope-handler.ts')],
      outfile: antiPatternFile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'warning',
    });
  }
  return {
    handlers,
    antiPattern: antiPatternFile,
    dispose,
  };
}
