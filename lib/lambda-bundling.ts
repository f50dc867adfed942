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
 * How every handler in `lambda/` is bundled: with the local esbuild (no Docker), minified,
 * with source maps, and with the AWS SDK v3 left to the Lambda runtime, which ships it.
 * The benchmark (`npm run bench`) builds the same options to report bundle sizes.
 */
export const lambdaBundling: BundlingOptions = {
  forceDockerBundling: false,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  format: OutputFormat.CJS,
  externalModules: ['@aws-sdk/*'],
  esbuildArgs: Object.fromEntries(
    Object.entries(lambdaAliases).map(([module, replacement]) => [`--alias:${module}`, replacement])
  ),
};
