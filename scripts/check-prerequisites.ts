/**
 * `npm test` runs this first (a second, before tsc and eslint): without MariaDB and without
 * DATABASE_URL the tests cannot run, and this says in one line what to install or set.
 */
import { localDatabaseProblem } from '../test/support/prerequisites';

export function checkPrerequisites(
  env: NodeJS.ProcessEnv,
  err: (line: string) => void,
  usual?: readonly string[]
): number {
  const problem = localDatabaseProblem(env, usual);
  if (!problem) return 0;
  err(`npm test needs a MySQL-compatible server. ${problem}`);
  return 1;
}

if (require.main === module) {
  process.exitCode = checkPrerequisites(process.env, (line) => console.error(line));
}
