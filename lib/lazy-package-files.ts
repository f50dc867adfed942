import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

/** The stand-in that loads a module on first use, copied into each copy as LAZY_MODULE_COPY. */
const LAZY_MODULE = path.join(ROOT, 'lambda', 'shims', 'lazy-module.ts');
const LAZY_MODULE_COPY = 'lambda-lazy-module.ts';

/**
 * What a lazy file becomes: a stand-in that requires the original, kept beside it as
 * `<name>.eager<ext>`, on first use, through the copy's own lazy-module (a path inside the copy,
 * so neither the copy nor the bundle depends on where the checkout is: the asset hash is the
 * same in every one).
 */
function standIn(toLazyModule: string, eager: string): string {
  return (
    '// Loaded on first use instead of at the top of the requiring module: lib/lazy-package-files.ts.\n' +
    "'use strict';\n" +
    `module.exports = require(${JSON.stringify(toLazyModule)}).lazyModule(() => require(${JSON.stringify(`./${eager}`)}));\n`
  );
}

/**
 * A copy of the installed package `name` in which each of `files` (CommonJS modules whose
 * exports are an object read by key) loads when first read instead of when the package is
 * loaded, for the Lambda bundles to alias the package to (lib/lambda-bundling.ts). esbuild cannot
 * replace a file that a package requires by a relative path except with a plugin, and
 * NodejsFunction runs the esbuild command line, which takes none; an alias to a copy works with
 * both NodejsFunction and the tests' bundles (test/support/bundle.ts).
 *
 * The copy is `.cache/lambda-bundling/<name>@<version>-<hash>` in the node_modules folder that
 * really holds the package (symbolic links resolved, as esbuild resolves them), so it finds the
 * package's dependencies along the same folders as the original does, with npm, workspaces or
 * pnpm. The hash covers everything the copy is made of (the package's package.json, the lazy
 * files, lazy-module.ts, the stand-in), so a change to any of them makes a new copy instead of
 * reusing a stale one. It is made once per install, in a staging folder renamed into place, so
 * parallel synths and test workers never see half of one; a failed copy leaves nothing behind.
 * Throws, saying what to do, when the installed version no longer has one of `files` or the
 * folder cannot be written.
 */
export function packageWithLazyFiles(name: string, files: readonly string[]): string {
  // Resolved as Node does, so a package hoisted to a parent node_modules (workspaces) is found.
  const original = realpathSync(
    path.dirname(require.resolve(`${name}/package.json`, { paths: [ROOT] }))
  );
  const packageJson = readFileSync(path.join(original, 'package.json'), 'utf8');
  const { version } = JSON.parse(packageJson) as { version: string };
  const hash = createHash('sha256').update(packageJson).update(readFileSync(LAZY_MODULE));
  for (const file of files) {
    if (!existsSync(path.join(original, file))) {
      throw new Error(
        `${name}@${version} has no ${file}, which the Lambda bundles load lazily: update the ` +
          `list of lazy files for ${name} in lib/lambda-bundling.ts.`
      );
    }
    hash.update(file).update(readFileSync(path.join(original, file)));
  }
  hash.update(standIn('', ''));
  const cache = path.join(path.dirname(original), '.cache', 'lambda-bundling');
  const copy = path.join(
    cache,
    `${name.replace('/', '+')}@${version}-${hash.digest('hex').slice(0, 12)}`
  );
  if (existsSync(copy)) return copy;
  const staging = `${copy}.${process.pid}.${Date.now()}`;
  try {
    mkdirSync(cache, { recursive: true });
    cpSync(original, staging, { recursive: true });
    copyFileSync(LAZY_MODULE, path.join(staging, LAZY_MODULE_COPY));
    for (const file of files) {
      const extension = path.extname(file);
      const eager = `${path.basename(file, extension)}.eager${extension}`;
      const folder = path.dirname(path.join(staging, file));
      const toLazyModule = path
        .relative(folder, path.join(staging, LAZY_MODULE_COPY))
        .split(path.sep)
        .join('/');
      renameSync(path.join(staging, file), path.join(folder, eager));
      writeFileSync(path.join(staging, file), standIn(toLazyModule, eager));
    }
    renameSync(staging, copy);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (existsSync(copy)) return copy; // another process made the same copy first
    const { code, message } = error as NodeJS.ErrnoException;
    throw new Error(
      `Could not make the Lambda bundles' copy of ${name} in ${cache} (${code ?? message}): ` +
        'that folder must be writable when the functions are bundled (cdk synth, npm test). ' +
        'Fix its permissions, or run `npm ci` again.'
    );
  }
  return copy;
}
