import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { packageWithLazyFiles } from '../../lib/lazy-package-files';

describe('a package copy with lazy files (the Lambda bundles alias mysql2 to one)', () => {
  test('its lazy file, bundled, is the original table read by key: names by number, numbers by name', async () => {
    const copy = packageWithLazyFiles('mysql2', ['lib/constants/errors.js']);
    // As the bundles get it: through esbuild, which also compiles the copy's lazy-module.ts.
    const { outputFiles } = await build({
      entryPoints: [path.join(copy, 'lib', 'constants', 'errors.js')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      write: false,
      logLevel: 'silent',
    });
    const loaded = { exports: {} as Record<string | number, unknown> };
    new Function('module', 'exports', 'require', outputFiles[0].text)(
      loaded,
      loaded.exports,
      require
    );
    const errors = loaded.exports;
    expect(errors[1062]).toBe('ER_DUP_ENTRY');
    expect(errors.ER_CON_COUNT_ERROR).toBe(1040);
    expect('ER_LOCK_DEADLOCK' in errors).toBe(true);
  });

  test('is made once: the same inputs give the same folder, and no staging folder is left', () => {
    const copy = packageWithLazyFiles('mysql2', ['lib/constants/errors.js']);
    expect(packageWithLazyFiles('mysql2', ['lib/constants/errors.js'])).toBe(copy);
    expect(path.basename(copy)).toMatch(/^mysql2@\d+\.\d+\.\d+-[0-9a-f]{12}$/);
    const staging = readdirSync(path.dirname(copy)).filter((name) => /\.\d+\.\d+$/.test(name));
    expect(staging).toEqual([]);
  });

  test('a file the installed version does not have stops the bundling and says what to update', () => {
    expect(() => packageWithLazyFiles('mysql2', ['lib/constants/moved.js'])).toThrow(
      /^mysql2@[\d.]+ has no lib\/constants\/moved\.js, which the Lambda bundles load lazily: update the list of lazy files for mysql2 in lib\/lambda-bundling\.ts\.$/
    );
  });
});
