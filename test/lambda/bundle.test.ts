import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { getDecoder, getEncoder } from '../../lambda/shims/iconv-lite';
import lazyHttp2 from '../../lambda/shims/http2';
import { lazyModule } from '../../lambda/shims/lazy-module';
import { readState } from '../support/state';

const KIB = 1024;

describe('lean bundles', () => {
  test.each(['writer', 'reader', 'migration'] as const)(
    'the %s bundle is at most 2 MiB, the AWS SDK included',
    (name) => {
      expect(readState().bundles[name].bytes).toBeLessThanOrEqual(2048 * KIB);
    }
  );

  test('the iconv-lite stand-in handles the UTF-8 family and refuses the rest loudly', () => {
    const text = 'Grüße ✓';
    expect(getDecoder('cesu8').write(Buffer.from(text))).toBe(text);
    expect(getEncoder('utf8').write(text)).toEqual(Buffer.from(text, 'utf8'));
    expect(() => getDecoder('big5')).toThrow(
      expect.objectContaining({ name: 'UnsupportedCharsetError' })
    );
  });

  test.each(['writer', 'reader'] as const)(
    'loading the %s bundle loads no node:http2 (the AWS SDK requires it for a handler it never uses)',
    (name) => {
      const loaded = loadInPlainNode(
        name,
        'console.log(JSON.stringify(process.moduleLoadList.filter((m) => /http2/.test(m))));'
      );
      expect(JSON.parse(loaded)).toEqual([]);
    }
  );

  test.each(['writer', 'reader'] as const)(
    "loading the %s bundle leaves mysql2's table of error names unloaded (read only for an error)",
    (name) => {
      // V8's precise coverage counts the calls of every function of the bundle, esbuild's module
      // wrappers included: the stand-in is required at load, the table behind it is not.
      const coverage = mkdtempSync(path.join(readState().dir, 'coverage-'));
      try {
        loadInPlainNode(name, '', { NODE_V8_COVERAGE: coverage });
        const calls = moduleWrapperCalls(coverage, readState().bundles[name].file);
        expect(calls.get('mysql2/lib/constants/errors.js')).toBe(1);
        expect(calls.get('mysql2/lib/constants/errors.eager.js')).toBe(0);
      } finally {
        rmSync(coverage, { recursive: true, force: true });
      }
    }
  );

  test('a lazy module loads on its first read, once, and is the module from then on', () => {
    let loads = 0;
    const table = lazyModule(() => {
      loads += 1;
      return { ER_DUP_ENTRY: 1062, 1062: 'ER_DUP_ENTRY' } as Record<string | number, unknown>;
    });
    expect(loads).toBe(0);
    expect(table[1062]).toBe('ER_DUP_ENTRY');
    expect(table.ER_DUP_ENTRY).toBe(1062);
    expect('ER_DUP_ENTRY' in table).toBe(true);
    expect(Object.keys(table)).toEqual(['1062', 'ER_DUP_ENTRY']);
    expect(loads).toBe(1);
  });

  test('the http2 stand-in is node:http2 once used: its functions and its constants', () => {
    const http2 = process.getBuiltinModule('node:http2');
    const { constants } = lazyHttp2; // as @smithy/node-http-handler destructures it at load
    expect(constants.HTTP2_HEADER_PATH).toBe(http2.constants.HTTP2_HEADER_PATH);
    expect(lazyHttp2.connect).toBe(http2.connect);
    expect(Object.keys(lazyHttp2)).toEqual(Object.keys(http2));
  });

  test('the http2 stand-in passes writes to node:http2, as a monitoring agent patching it expects', () => {
    const http2 = process.getBuiltinModule('node:http2') as unknown as Record<string, unknown>;
    const patched = lazyHttp2 as unknown as Record<string, unknown>;
    patched.patchedByTest = 1;
    expect(http2.patchedByTest).toBe(1);
    Object.defineProperty(patched, 'definedByTest', { value: 2, enumerable: true });
    expect(Object.keys(patched)).toEqual(Object.keys(http2));
    delete patched.patchedByTest;
    delete patched.definedByTest;
    expect('patchedByTest' in http2 || 'definedByTest' in http2).toBe(false);
  });
});

/**
 * Loads a bundle in a plain node, as Lambda starts one (no configuration, so its init only
 * warns), runs `then` in the same module after the load, and returns what it printed. A failed
 * load throws with its stderr.
 */
function loadInPlainNode(
  name: 'writer' | 'reader',
  then: string,
  env: Record<string, string> = {}
): string {
  return execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(readState().bundles[name].file)});${then}`,
    ],
    {
      env: { PATH: process.env.PATH, AWS_EC2_METADATA_DISABLED: 'true', ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }
  );
}

/**
 * How often each bundled package module's esbuild wrapper ran, by its path inside the package
 * (`mysql2/lib/...`), from the V8 coverage files NODE_V8_COVERAGE wrote for `bundle`.
 */
function moduleWrapperCalls(coverageDir: string, bundle: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const file of readdirSync(coverageDir)) {
    const { result } = JSON.parse(readFileSync(path.join(coverageDir, file), 'utf8')) as {
      result: { url: string; functions: { functionName: string; ranges: { count: number }[] }[] }[];
    };
    for (const script of result.filter((s) =>
      s.url.endsWith(path.basename(path.dirname(bundle)) + '/index.mjs')
    )) {
      for (const fn of script.functions) {
        const inPackage =
          /node_modules\/(?:\.cache\/lambda-bundling\/)?((?:@[^/]+\/)?[^/@]+)(?:@[^/]+)?\/(.+)$/.exec(
            fn.functionName
          );
        if (inPackage) calls.set(`${inPackage[1]}/${inPackage[2]}`, fn.ranges[0].count);
      }
    }
  }
  return calls;
}
