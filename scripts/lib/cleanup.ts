import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { stopAllPrivateServers } from '../../test/support/private-server';

/**
 * What a tool must undo if it is stopped (Ctrl-C, `kill`): Node exits on SIGINT and SIGTERM
 * without running `finally` blocks, and the private servers run detached, so without this a
 * stopped tool leaves a mariadbd running and its data-path-db-* directory in the temp folder.
 */
const directories = new Set<string>();

/** A temporary directory removed by `dispose()`, or by the signal handler if the tool is stopped first. */
export function temporaryDirectory(prefix: string): { dir: string; dispose(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  directories.add(dir);
  return {
    dir,
    dispose: () => {
      directories.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Stops every private server this process started and removes its temporary directories. */
export async function cleanUpNow(): Promise<void> {
  await stopAllPrivateServers();
  for (const dir of directories) {
    rmSync(dir, { recursive: true, force: true });
  }
  directories.clear();
}

/** The part of `process` the handler uses (tests pass an EventEmitter). */
export interface SignalTarget {
  once(signal: NodeJS.Signals, listener: () => void): unknown;
  exit(code: number): void;
}

/**
 * On SIGINT or SIGTERM: clean up, say so in one line, and exit 130 or 143 (the shell's codes
 * for those signals). A second signal during the clean-up exits at once.
 */
export function cleanUpOnSignals(
  target: SignalTarget = process,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)
): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    target.once(signal, () => {
      log(`\n${signal}: stopping the private servers and removing temporary files.`);
      target.once(signal, () => target.exit(code));
      cleanUpNow().then(
        () => target.exit(code),
        () => target.exit(code)
      );
    });
  }
}

/**
 * `work` with the clean-up around it: on SIGINT / SIGTERM while it runs, and in any case when it
 * ends, so a failed run leaves no server or temporary directory behind either.
 */
export function withCleanUp<A extends unknown[], R>(
  work: (...args: A) => Promise<R>
): (...args: A) => Promise<R> {
  return async (...args) => {
    cleanUpOnSignals();
    try {
      return await work(...args);
    } finally {
      await cleanUpNow();
    }
  };
}
