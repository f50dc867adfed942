import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BuiltHandler } from '../../test/support/bundle';
import { UsageError } from '../lib/cli';
import { temporaryDirectory } from '../lib/cleanup';
import { ROOT } from '../lib/report';

/** The writer and reader of another revision, built for the bench to measure beside today's. */
export interface RevisionHandlers {
  /** The revision as given (`main`, `HEAD~3`, a tag). */
  readonly revision: string;
  /** The commit it named when the bench ran, abbreviated. */
  readonly commit: string;
  /**
   * Whether its package-lock.json differs from this checkout's: its bundles were built with this
   * checkout's packages all the same.
   */
  readonly otherLockfile: boolean;
  readonly handlers: Record<'writer' | 'reader', BuiltHandler>;
  dispose(): void;
}

/**
 * Builds the writer and reader of `revision` of this repository as that revision shipped them:
 * its files (`git archive`) bundled by its own test/support/bundle.ts, with this checkout's
 * node_modules linked in (so the packages are today's; a revision that needs others fails to
 * build, and says so). The bench then measures them in the same run as today's bundles: a
 * baseline as old as one likes, with the same machine noise as the change it is compared with.
 */
export function buildRevisionHandlers(revision: string): RevisionHandlers {
  const commit = git(['rev-parse', '--verify', '--quiet', '--short', `${revision}^{commit}`], () =>
    fail(`${revision} names no commit of ${ROOT}: give a commit, branch or tag (git log).`)
  );
  const lockfile = git(['show', `${commit}:package-lock.json`], () => '');
  const otherLockfile =
    lockfile !== readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8').trim();
  const { dir, dispose } = temporaryDirectory('bench-revision-');
  try {
    const tree = path.join(dir, 'tree');
    mkdirSync(tree);
    execFileSync('tar', ['-x', '-C', tree], {
      input: execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', commit], {
        maxBuffer: 512 * 1024 * 1024,
      }),
    });
    // 'junction': a folder link Windows makes without privileges; elsewhere a plain symlink.
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'), 'junction');
    const bundler = path.join(tree, 'test', 'support', 'bundle.ts');
    if (!existsSync(bundler)) {
      fail(
        `${revision} has no test/support/bundle.ts to build its handlers with: pick a later one.`
      );
    }
    const out = path.join(dir, 'bundles');
    const script = path.join(dir, 'build.ts');
    writeFileSync(
      script,
      `import { buildHandlers } from ${JSON.stringify(pathToFileURL(bundler).href)};\n` +
        `buildHandlers(${JSON.stringify(out)}).then((built) => process.stdout.write(JSON.stringify(built)));\n`
    );
    let built: Record<string, BuiltHandler>;
    try {
      const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
      built = JSON.parse(
        execFileSync(process.execPath, [tsx, script], {
          cwd: ROOT, // the bundle's module paths then read as in today's (node_modules/...)
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      ) as Record<string, BuiltHandler>;
    } catch (error) {
      // The bundler's own error (esbuild's "Could not resolve ...") comes first, the stack after.
      const stderr = String((error as { stderr?: string }).stderr ?? error);
      const cause = stderr
        .split('\n')
        .filter((line) => /error/i.test(line))
        .slice(0, 3)
        .join(' ')
        .trim();
      return fail(
        `${revision}'s handlers did not build (${cause || stderr.trim().split('\n')[0]})` +
          (otherLockfile
            ? ": its package-lock.json differs from this checkout's, whose packages it was " +
              'built with; pick a revision with the same dependencies.'
            : '.')
      );
    }
    if (!built.writer || !built.reader) {
      fail(`${revision} builds no writer and reader handlers: pick a later one.`);
    }
    return {
      revision,
      commit,
      otherLockfile,
      handlers: { writer: built.writer, reader: built.reader },
      dispose,
    };
  } catch (error) {
    dispose();
    throw error;
  }
}

function git(args: string[], onError: () => string): string {
  try {
    return execFileSync('git', ['-C', ROOT, ...args], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return onError();
  }
}

function fail(message: string): never {
  throw new UsageError(`--against: ${message}`);
}
