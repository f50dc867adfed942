import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Plugin, build } from 'esbuild';
import { BuiltHandler, HandlerName, buildHandlers } from '../../test/support/bundle';
import { temporaryDirectory } from './cleanup';
import { ROOT } from './report';

export interface RunBundles {
  /** The shipped handlers, built with the shipped options (lib/lambda-bundling.ts). */
  readonly handlers: Record<HandlerName, BuiltHandler>;
  /** The anti-pattern, test/support/module-scope-handler.ts, as a default NodejsFunction bundle. */
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
    await buildDefault(
      path.join(ROOT, 'test', 'support', 'module-scope-handler.ts'),
      antiPatternFile
    );
  }
  return {
    handlers,
    antiPattern: antiPatternFile,
    dispose,
  };
}

/** The conventional counterparts of the modules that cut the cold path (scripts/bench/conventional). */
const CONVENTIONAL: Record<string, string> = {
  'secrets-manager-client': path.join(ROOT, 'scripts', 'bench', 'conventional', 'sdk-client.ts'),
  'rds-ca': path.join(ROOT, 'scripts', 'bench', 'conventional', 'whole-bundle-ca.ts'),
};

/**
 * An esbuild plugin that builds the handlers as conventionally written: the AWS SDK client with
 * its default credential chain, the whole CA bundle.
 */
const conventionalCode: Plugin = {
  name: 'conventional-code',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\/(secrets-manager-client|rds-ca)$/ }, (args) => ({
      path: CONVENTIONAL[args.path.slice(2)],
    }));
  },
};

/** The handlers' init-phase read (lambda/reader.ts, writer.ts): one top-level statement. */
const INIT_PHASE_READ = /^await prepareForFirstInvocation\(.*\);$/m;

/**
 * An esbuild plugin that drops the handlers' top-level `await prepareForFirstInvocation(...)`:
 * NodejsFunction's default CommonJS output cannot hold a top-level await, and code written
 * without it reads its secret in the first invocation. Fails when the statement is not found,
 * so a renamed call cannot silently leave the baseline measuring something else.
 */
const withoutInitPhaseRead: Plugin = {
  name: 'without-init-phase-read',
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /[\\/]lambda[\\/](reader|writer)\.ts$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!INIT_PHASE_READ.test(source)) {
        throw new Error(`${args.path}: no top-level prepareForFirstInvocation() to leave out`);
      }
      return { contents: source.replace(INIT_PHASE_READ, ''), loader: 'ts' };
    });
  },
};

/**
 * What `new NodejsFunction(...)` does with no bundling options, for the same entry (without
 * the init-phase read, which its CommonJS output cannot hold); with
 * `conventional`, of the handlers as conventionally written (the AWS SDK v3 client with its
 * defaults for the secret, the whole RDS CA bundle), the baseline of the cold path.
 */
export async function buildDefault(
  entry: string,
  outfile: string,
  { conventional = false } = {}
): Promise<void> {
  await build({
    plugins: conventional ? [withoutInitPhaseRead, conventionalCode] : [withoutInitPhaseRead],
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24', // NodejsFunction derives the target from the runtime (Node.js 24)
    format: 'cjs',
    minify: false,
    sourcemap: false,
    external: ['@aws-sdk/*'], // its default for Node.js 18+ runtimes
    logLevel: 'warning',
  });
}
