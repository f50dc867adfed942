import { BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

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
};
