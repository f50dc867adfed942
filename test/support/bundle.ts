import { statSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { AppRole, DATA_FUNCTIONS } from '../../lib/declared-functions';
import { lambdaAliases, lambdaBundling } from '../../lib/lambda-bundling';

const ROOT = path.join(__dirname, '..', '..');

/** Every declared data function's handler (lib/declared-functions.ts), and the stack's own two. */
export type HandlerName = AppRole | 'migration' | 'rotation';

export const HANDLERS: Readonly<Record<HandlerName, string>> = {
  ...(Object.fromEntries(
    DATA_FUNCTIONS.map(({ name, entry }) => [name, path.join(ROOT, entry)])
  ) as Record<AppRole, string>),
  /** The deploy-time custom resource's handler (lib/schema-migration.ts). */
  migration: path.join(ROOT, 'lambda', 'migration-resource.ts'),
  /** The secret rotation function (lib/password-rotation.ts). */
  rotation: path.join(ROOT, 'lambda', 'rotate.ts'),
};

export interface BuiltHandler {
  /** The bundle (an ES module), ready for `import()`. */
  readonly file: string;
  /** Size of the bundle, without its source map. */
  readonly bytes: number;
}

/**
 * Bundles each handler the way NodejsFunction does with lib/lambda-bundling.ts (same esbuild,
 * same flags, Lambda's node24 target), so tests run the code that ships, trimmed modules included.
 */
export async function buildHandlers(outdir: string): Promise<Record<HandlerName, BuiltHandler>> {
  const built = await Promise.all(
    (Object.keys(HANDLERS) as HandlerName[]).map(
      async (name) => [name, await bundleHandler(HANDLERS[name], path.join(outdir, name))] as const
    )
  );
  return Object.fromEntries(built) as Record<HandlerName, BuiltHandler>;
}

/** Bundles one handler file into `outdir` as NodejsFunction would (a fork's fixture uses it too). */
export async function bundleHandler(entry: string, outdir: string): Promise<BuiltHandler> {
  const extension = lambdaBundling.format === 'esm' ? 'mjs' : 'js'; // as NodejsFunction names it
  const file = path.join(outdir, `index.${extension}`);
  await build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: lambdaBundling.format === 'esm' ? 'esm' : 'cjs',
    minify: lambdaBundling.minify,
    minifySyntax: lambdaBundling.esbuildArgs?.['--minify-syntax'] === true,
    sourcemap: lambdaBundling.sourceMap,
    sourcesContent: lambdaBundling.sourcesContent,
    external: lambdaBundling.externalModules,
    mainFields: lambdaBundling.mainFields,
    banner: lambdaBundling.banner ? { js: lambdaBundling.banner } : undefined,
    alias: lambdaAliases,
    logLevel: 'warning',
  });
  // Measured on disk: independent of the working directory, and never a silent 0.
  return { file, bytes: statSync(file).size };
}
