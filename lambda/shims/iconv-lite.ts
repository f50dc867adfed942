import { StringDecoder } from 'node:string_decoder';

/**
 * Stand-in for `iconv-lite` in the Lambda bundles (aliased in lib/lambda-bundling.ts).
 *
 * mysql2 decodes and encodes with Node's Buffer for every encoding Node knows (utf8, latin1,
 * ascii...) and asks iconv-lite only for the others. Our connections are utf8mb4, so the only
 * other one it can meet is `cesu8`: metadata or columns in MySQL's 3-byte utf8, which is
 * byte-for-byte UTF-8 (it holds no characters outside the BMP). Anything else is a
 * misconfiguration we want to hear about, not ~480 KiB of code pages in every cold start.
 */
const UTF8_COMPATIBLE = new Set(['cesu8', 'utf8', 'utf-8']);

export class UnsupportedCharsetError extends Error {
  readonly name = 'UnsupportedCharsetError';

  constructor(encoding: string) {
    super(
      `Character set "${encoding}" is not bundled; the functions use utf8mb4 connections and tables only.`
    );
  }
}

function check(encoding: string): void {
  if (!UTF8_COMPATIBLE.has(String(encoding).toLowerCase())) {
    throw new UnsupportedCharsetError(encoding);
  }
}

export function getDecoder(encoding: string): {
  write(buffer: Buffer): string;
  end(): string | undefined;
} {
  check(encoding);
  return new StringDecoder('utf8');
}

export function getEncoder(encoding: string): {
  write(text: string): Buffer;
  end(): Buffer | undefined;
} {
  check(encoding);
  return { write: (text) => Buffer.from(text, 'utf8'), end: () => undefined };
}

export function encodingExists(encoding: string): boolean {
  return UTF8_COMPATIBLE.has(String(encoding).toLowerCase());
}
