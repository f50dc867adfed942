import * as fs from 'node:fs';
import * as path from 'node:path';
import { resourcesOf, synthesize } from './synthesize';

// The one infra test that runs esbuild: it proves the handlers bundle locally (no Docker) into
// an ES module with names kept, a source map beside it and the AWS SDK inside, at the version
// in package-lock.json rather than the Lambda runtime's (lib/lambda-bundling.ts).
test('each of our functions is bundled locally into an index.mjs of at most 2 MiB that keeps function names and carries the AWS SDK', () => {
  const { template, outdir } = synthesize('sandbox', { bundle: true });
  const functions = resourcesOf(template, 'AWS::Lambda::Function').filter(
    ([, f]) => f.Properties.Handler === 'index.handler'
  );
  expect(functions).toHaveLength(4); // writer, reader, schema migration, secret rotation
  for (const [id, fn] of functions) {
    const assetDir = path.join(outdir, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
    expect({ id, files: fs.readdirSync(assetDir).sort() }).toEqual({
      id,
      files: ['index.mjs', 'index.mjs.map'],
    });
    const code = fs.readFileSync(path.join(assetDir, 'index.mjs'), 'utf8');
    const map = JSON.parse(fs.readFileSync(path.join(assetDir, 'index.mjs.map'), 'utf8'));
    // Names kept, so a stack trace in the logs is readable without the map; within the 2 MiB
    // budget. Booleans, not the code: a failure must not print megabytes of it.
    expect({ id, namesKept: /\bfunction openConnection\(/.test(code) }).toEqual({
      id,
      namesKept: true,
    });
    expect(Buffer.byteLength(code)).toBeLessThanOrEqual(2048 * 1024);
    // Self-contained: nothing imported from outside but Node.js built-ins.
    const imported = [...code.matchAll(/\bfrom\s*"([^"]+)"/g)].map(([, m]) => m);
    expect({ id, notBuiltIn: imported.filter((m) => !m.startsWith('node:')) }).toEqual({
      id,
      notBuiltIn: [],
    });
    // The SDK comes from node_modules (package-lock.json's version), into the bundle.
    expect(
      map.sources.some((s: string) => s.includes('node_modules/@aws-sdk/client-secrets-manager/'))
    ).toBe(true);
    expect({ id, exportsHandler: /export\s*\{[^}]*\bhandler\b/.test(code) }).toEqual({
      id,
      exportsHandler: true,
    });
  }
});
