import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

/** The stand-in that loads a module on first use (lambda/shims/lazy-module.ts). */
const LAZY_MODULE = path.join(ROOT, 'lambda', 'shims', 'lazy-module.ts');

/** Where the copies live: rebuilt after `npm ci`, never committed. */
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'lambda-bundling');

/**
 * What a lazy file becomes: a stand-in that requires the original, kept beside it as
 * `<name>.eager.js`, on first use. `%LAZY_MODULE%` becomes the path from the file to
 * lazy-module.ts, relative, so that neither the copy nor the bundle holds a path of this machine
 * (the bundle's asset hash is the same in every checkout).
 */
const STAND_IN =
  '// Loaded on first use instead of at the top of the requiring module: lib/lazy-package-files.ts.\n' +
  "'use strict';\n" +
  "module.exports = require(%LAZY_MODULE%).lazyModule(() => require('./%EAGER%'));\n";

/**
 * A copy of the installed package `name` in which each of `files` (CommonJS modules whose
 * exports are an object read by key) loads when first read instead of when the package is
 * loaded, for the Lambda bundles to alias the package to (lib/lambda-bundling.ts). esbuild cannot
 * replace a file that a package requires by a relative path except with a plugin, and
 * NodejsFunction runs the esbuild command line, which takes none; an alias to a copy works with
 * both NodejsFunction and the tests' bundles (test/support/bundle.ts).
 *
 * The copy lives in node_modules/.cache/lambda-bundling/<name>@<version>-<hash of what is
 * replaced>, is made once per install (written beside and renamed into place, so parallel synths
 * and test workers never see half of one) and resolves its own dependencies from the project's
 * node_modules, as the original does. Throws, naming the file, when the installed version no
 * longer has one of `files`: the list must follow the package.
 */
export function packageWithLazyFiles(name: string, files: readonly string[]): string {
  // Resolved as Node does, so a package hoisted to a parent node_modules (workspaces) is found.
  const original = path.dirname(require.resolve(`${name}/package.json`, { paths: [ROOT] }));
  const { version } = JSON.parse(readFileSync(path.join(original, 'package.json'), 'utf8')) as {
    version: string;
  };
  for (const file of files) {
    if (!existsSync(path.join(original, file))) {
      throw new Error(
        `${name}@${version} has no ${file}, which the Lambda bundles load lazily: update the ` +
          `list of lazy files for ${name} in lib/lambda-bundling.ts.`
      );
    }
  }
  const hash = createHash('sha256')
    .update(JSON.stringify([STAND_IN, files]))
    .digest('hex')
    .slice(0, 12);
  const copy = path.join(CACHE, `${name.replace('/', '+')}@${version}-${hash}`);
  if (!existsSync(copy)) {
    const staging = `${copy}.${process.pid}.${Date.now()}`;
    mkdirSync(CACHE, { recursive: true });
    cpSync(original, staging, { recursive: true });
    for (const file of files) {
      const eager = `${path.basename(file, '.js')}.eager.js`;
      const lazyModule = path
        .relative(path.dirname(path.join(copy, file)), LAZY_MODULE)
        .split(path.sep)
        .join('/');
      renameSync(
        path.join(staging, file),
        path.join(path.dirname(path.join(staging, file)), eager)
      );
      writeFileSync(
        path.join(staging, file),
        STAND_IN.replace('%LAZY_MODULE%', JSON.stringify(lazyModule)).replace('%EAGER%', eager)
      );
    }
    try {
      renameSync(staging, copy);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(copy)) throw error; // else another process made the same copy first
    }
  }
  return copy;
}
