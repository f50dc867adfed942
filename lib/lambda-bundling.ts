import * as path from 'node:path';
import { BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

/**
 * Modules replaced in the bundles, by a smaller file with the same API for our use.
 * `iconv-lite` (~480 KiB minified, code pages for charsets we never use): see the shim for why
 * utf8mb4-only connections never need it. Tests run the handlers from bundles built with these
 * options (test/support/bundle.ts), so the trimmed path is the tested path.
 */
export const lambdaAliases: Record<string, string> = {
  'iconv-lite': path.join(__dirname, '..', 'lambda', 'shims', 'iconv-lite.ts'),
};

/**
 * Lets the CommonJS packages in an ES module bundle (mysql2 and its dependencies `require()`
 * Node.js built-ins) find `require`, which ES modules do not have.
 */
const REQUIRE_IN_ESM =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/**
 * How every handler in `lambda/` is bundled: with the local esbuild (no Docker), minified, with
 * source maps, as an ES module with the AWS SDK v3 inside.
 * - ES module (`index.mjs`): the handlers `await` their init-phase work at the top level
 *   (`prepareForFirstInvocation()`, lambda/lib/runtime.ts), which CommonJS cannot.
 * - The AWS SDK is bundled, not left to the runtime's copy: the version is the one in
 *   package-lock.json, tested here, and one file loads without resolving and reading hundreds.
 *   An ES module must bundle it anyway: `import` does not search NODE_PATH, where Lambda puts
 *   its copy.
 * - The packages' CommonJS builds (esbuild's default `main` before `module` for Node): their
 *   `require('node:http')` stays a plain require, where the ES module builds' `import` of a
 *   built-in makes Node build its ES module facade, and node:http's facade loads undici (~25 ms
 *   of CPU, measured with a CPU profile of the cold path). Tree-shaking the ES builds saved ~140 KiB but
 *   no time.
 * The benchmark (`npm run bench`) builds the same options to report sizes and the cold path.
 */
export const lambdaBundling: BundlingOptions = {
  forceDockerBundling: false,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  format: OutputFormat.ESM,
  banner: REQUIRE_IN_ESM,
  externalModules: [],
  esbuildArgs: Object.fromEntries(
    Object.entries(lambdaAliases).map(([module, replacement]) => [`--alias:${module}`, replacement])
  ),
};
