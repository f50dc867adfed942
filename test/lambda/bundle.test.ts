import { execFileSync } from 'node:child_process';
import { getDecoder, getEncoder } from '../../lambda/shims/iconv-lite';
import lazyHttp2 from '../../lambda/shims/http2';
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
      // A plain node, as Lambda starts one; no configuration, so init only warns.
      const loaded = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `await import(${JSON.stringify(readState().bundles[name].file)});` +
            'console.log(JSON.stringify(process.moduleLoadList.filter((m) => /http2/.test(m))));',
        ],
        {
          env: { PATH: process.env.PATH, AWS_EC2_METADATA_DISABLED: 'true' },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        }
      );
      expect(JSON.parse(loaded)).toEqual([]);
    }
  );

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
