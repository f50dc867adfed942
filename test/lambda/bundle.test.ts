import { getDecoder, getEncoder } from '../../lambda/shims/iconv-lite';
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
});
