import { lazyBuiltin } from './lazy-module';

/**
 * `node:http2` for the Lambda bundles, loaded on first use (lazy-module.ts). The AWS SDK's HTTP
 * handler package (@smithy/node-http-handler) requires it at its top for NodeHttp2Handler and
 * destructures its `constants` there; the Secrets Manager client sends its requests with
 * NodeHttpHandler, over HTTP/1.1, so http2 (and the `assert` module it loads) were CPU spent on
 * every cold start for nothing.
 */
export = lazyBuiltin<typeof import('node:http2')>('node:http2', ['constants']);
