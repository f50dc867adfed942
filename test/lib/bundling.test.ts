import * as fs from 'node:fs';
import * as path from 'node:path';
import { resourcesOf, synthesize } from './synthesize';

// The one infra test that runs esbuild: it proves the handlers bundle locally (no Docker) into
// a minified index.js with a source map and no AWS SDK inside (the runtime provides it).
test('each of our functions is bundled locally into a minified index.js of at most 600 KiB without the AWS SDK', () => {
  const { template, outdir } = synthesize('sandbox', { bundle: true });
  const functions = resourcesOf(template, 'AWS::Lambda::Function').filter(
    ([, f]) => f.Properties.Handler === 'index.handler'
  );
  expect(functions).toHaveLength(3); // writer, reader, schema migration
  for (const [id, fn] of functions) {
    const assetDir = path.join(outdir, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
    const code = fs.readFileSync(path.join(assetDir, 'index.js'), 'utf8');
    expect(fs.existsSync(path.join(assetDir, 'index.js.map'))).toBe(true);
    // Minified: no indented statements left; lean: within the 600 KiB budget (cold start).
    expect(code).not.toMatch(/^\s{2,}(const|let|function|return)\b/m);
    expect(Buffer.byteLength(code)).toBeLessThanOrEqual(600 * 1024);
    expect(code).not.toMatch(/node_modules\/@aws-sdk\/client-secrets-manager\/dist-cjs/);
    expect({ id, exportsHandler: /handler/.test(code) }).toEqual({ id, exportsHandler: true });
  }
});
