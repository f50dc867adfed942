import { statSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { lambdaAliases, lambdaBundling } from '../../lib/lambda-bundling';

const ROOT = path.join(__dirname, '..', '..');

export const HANDLERS = {
  writer: path.join(ROOT, 'lambda', 'writer.ts'),
  reader: path.join(ROOT, 'lambda', 'reader.ts'),
  /** The deploy-time custom resource's handler (lib/schema-migration.ts). */
  migration: path.join(ROOT, 'lambda', 'migration-resource.ts'),
  /** The secret rotation function (lib/password-rotation.ts). */
  rotation: path.join(ROOT, 'lambda', 'rotate.ts'),
} as const;
export type HandlerName = keyof typeof HANDLERS;

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
    (Object.keys(HANDLERS) as HandlerName[]).map(async (name) => {
      const extension = lambdaBundling.format === 'esm' ? 'mjs' : 'js'; // as NodejsFunction names it
      const file = path.join(outdir, name, `index.${extension}`);
      await build({
        entryPoints: [HANDLERS[name]],
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
      return [name, { file, bytes: statSync(file).size }] as const;
    })
  );
  return Object.fromEntries(built) as Record<HandlerName, BuiltHandler>;
}
