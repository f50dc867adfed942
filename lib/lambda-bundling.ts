import * as path from 'node:path';
import { BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { packageWithLazyFiles } from './lazy-package-files';

/**
 * Modules replaced in the bundles, by a smaller or lazier file with the same API for our use.
 * `iconv-lite` (~480 KiB minified, code pages for charsets we never use): see the shim for why
 * utf8mb4-only connections never need it. Tests run the handlers from bundles built with these
 * options (test/support/bundle.ts), so the trimmed path is the tested path.
 */
export const lambdaAliases: Record<string, string> = {
  'iconv-lite': shim('iconv-lite'),
  // A built-in that a bundled package loads at its top for a feature the functions never use, in
  // both spellings: loaded on first use instead (lambda/shims/lazy-module.ts). Not zlib, which
  // mysql2 needs only for compression: the AWS SDK reads zlib.crc32 at load time.
  http2: shim('http2'),
  'node:http2': shim('http2'),
  // mysql2, with its table of ~4,000 MySQL error names (185 KiB of assignments, compiled and run
  // at every cold start before) loaded when an error first needs a name: mysql2 only reads it by
  // key (lib/lazy-package-files.ts; why: docs/performance.md, "Cold start").
  mysql2: packageWithLazyFiles('mysql2', ['lib/constants/errors.js']),
};

function shim(name: string): string {
  return path.join(__dirname, '..', 'lambda', 'shims', `${name}.ts`);
}

/**
 * Lets the CommonJS packages in an ES module bundle (mysql2 and its dependencies `require()`
 * Node.js built-ins) find `require`, which ES modules do not have.
 */
const REQUIRE_IN_ESM =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/**
 * How every handler in `lambda/` is bundled: with the local esbuild (no Docker), as an ES module
 * with the AWS SDK v3 inside, syntax-minified with names and lines kept, source map beside it.
 * - Names and lines kept instead of identifiers minified, and no `--enable-source-maps` at run
 *   time (lib/data-function.ts): a stack trace in the logs names the real function and a line
 *   of the readable bundle, where parsing the ~1 MiB source map cost every cold start about
 *   35 ms of CPU (`npm run bench`, bundles table). The map stays in the asset: set
 *   `NODE_OPTIONS=--enable-source-maps` on a function to get TypeScript lines while debugging.
 *   Whitespace and names cost size (about 1.8 MiB), not time: the cold path measured the same.
 * - ES module (`index.mjs`): the handlers `await` their init-phase work at the top level
 *   (`prepareForFirstInvocation()`, lambda/lib/runtime.ts), which CommonJS cannot.
 * - The AWS SDK is bundled, not left to the runtime's copy: the version is the one in
 *   package-lock.json, tested here, and one file loads without resolving and reading hundreds.
 *   An ES module must bundle it anyway: `import` does not search NODE_PATH, where Lambda puts
 *   its copy.
 * - The packages' CommonJS builds (esbuild's default `main` before `module` for Node): their
 *   `require('node:http')` stays a plain require, where the ES module builds' `import` of a
 *   built-in makes Node build its ES module facade, and node:http's facade loads undici (~25 ms
 *   of CPU in a profile of the cold path). Tree-shaking the ES builds saved ~140 KiB and was
 *   slower in same-run measurements.
 * The benchmark (`npm run bench`) builds the same options to report sizes and the cold path.
 */
export const lambdaBundling: BundlingOptions = {
  forceDockerBundling: false,
  minify: false,
  sourceMap: true,
  sourcesContent: false,
  format: OutputFormat.ESM,
  banner: REQUIRE_IN_ESM,
  externalModules: [],
  esbuildArgs: {
    '--minify-syntax': true,
    ...Object.fromEntries(
      Object.entries(lambdaAliases).map(([module, replacement]) => [
        `--alias:${module}`,
        replacement,
      ])
    ),
  },
};
