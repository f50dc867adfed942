import { accessSync, constants, statSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Where MariaDB installs its server programs besides PATH: Debian and Ubuntu put `mariadbd` in
 * /usr/sbin (not on a normal user's PATH), Homebrew under its `opt` prefix.
 */
export const USUAL_DIRECTORIES: readonly string[] = [
  '/usr/sbin',
  '/usr/local/sbin',
  '/usr/bin',
  '/usr/local/bin',
  '/opt/homebrew/opt/mariadb/bin',
  '/opt/homebrew/bin',
  '/usr/local/opt/mariadb/bin',
  '/usr/local/mysql/bin',
];

/** A missing program or setting; its message is one line that says what to install or set. */
export class PrerequisiteError extends Error {
  readonly name = 'PrerequisiteError';
}

/**
 * The server tests and tools use instead of a private MariaDB: DATABASE_URL (an admin user,
 * `mysql://root:pw@127.0.0.1:3306`) and DB_TLS_CA_FILE, the names the handlers read.
 * MYSQL_URL / MYSQL_TLS_CA_FILE, the names the tests used to read, still work as aliases.
 */
export function externalServer(
  env: NodeJS.ProcessEnv = process.env
): { url: string; caFile?: string } | undefined {
  const url = env.DATABASE_URL || env.MYSQL_URL;
  return url ? { url, caFile: env.DB_TLS_CA_FILE || env.MYSQL_TLS_CA_FILE } : undefined;
}

/** `name` on PATH, else in `USUAL_DIRECTORIES`; undefined when neither has it. */
export function findExecutable(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  usual: readonly string[] = USUAL_DIRECTORIES
): string | undefined {
  const onPath = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of [...onPath, ...usual]) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const INSTALL =
  'install MariaDB (Debian/Ubuntu: sudo apt-get install mariadb-server openssl; macOS: brew install mariadb)';
const OR_SET =
  'or set DATABASE_URL=mysql://root:pw@127.0.0.1:3306 (an admin user; DB_TLS_CA_FILE for its CA) to use a MySQL-compatible server you run';

/** The programs a private server needs, or a PrerequisiteError naming what is missing. */
export function findMariadb(
  env: NodeJS.ProcessEnv = process.env,
  usual: readonly string[] = USUAL_DIRECTORIES
): { mariadbd: string; installDb: string; openssl: string } {
  const found = {
    mariadbd: findExecutable('mariadbd', env, usual),
    installDb: findExecutable('mariadb-install-db', env, usual),
    openssl: findExecutable('openssl', env, usual),
  };
  const missing = [
    ...(found.mariadbd ? [] : ['mariadbd']),
    ...(found.installDb ? [] : ['mariadb-install-db']),
    ...(found.openssl ? [] : ['openssl']),
  ];
  if (missing.length > 0) {
    throw new PrerequisiteError(
      `No ${missing.join(', ')} on PATH or in ${USUAL_DIRECTORIES.slice(0, 2).join(', ')} or Homebrew's prefix: ` +
        `${INSTALL}, ${OR_SET}.`
    );
  }
  return found as { mariadbd: string; installDb: string; openssl: string };
}

/**
 * What the tests and the local tools need to reach a database: nothing when DATABASE_URL (or
 * its alias) names one, else MariaDB's programs. Undefined when all is there, else the one line.
 */
export function localDatabaseProblem(
  env: NodeJS.ProcessEnv = process.env,
  usual: readonly string[] = USUAL_DIRECTORIES
): string | undefined {
  if (externalServer(env)) return undefined;
  try {
    findMariadb(env, usual);
    return undefined;
  } catch (error) {
    if (error instanceof PrerequisiteError) return error.message;
    throw error;
  }
}

/** Throws one line saying what to install or set when there is no database to run against. */
export function requireLocalDatabase(env: NodeJS.ProcessEnv = process.env): void {
  const problem = localDatabaseProblem(env);
  if (problem) throw new PrerequisiteError(problem);
}

/** The `--help` lines of the tools that run a database (demo, load, bench). */
export const LOCAL_DATABASE_NOTES = [
  'Database: a private mariadbd with TLS (mariadbd and mariadb-install-db on PATH, in /usr/sbin or',
  "Homebrew's prefix), or your own server: DATABASE_URL=mysql://root:pw@127.0.0.1:3306 (a user that",
  'may create databases and users and set globals) and DB_TLS_CA_FILE for its CA.',
];
