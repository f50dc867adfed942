import { Grant, readsOnly } from '../../lambda/lib/grants';
import { makeCa, makeSignedCertificate } from './test-certificates';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { freePort } from './ports';
import { HANG_MS } from './poll';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { RowDataPacket, createConnection } from 'mysql2/promise';
import { migrationSessionStatement, SERVER_BOUNDS } from '../../lambda/lib/server-bounds';
import { PrerequisiteError, externalServer, findMariadb } from './prerequisites';

const run = promisify(execFile);

/** Servers this process started and has not stopped: stopAllPrivateServers() ends them. */
const started = new Map<string, ServerInfo>();

/** How tests reach a server: admin credentials plus the CA its certificate chains to. */
/**
 * The test servers' `wait_timeout`: an idle session left open by a client is closed by the server
 * after this long, so a check for leaked sessions must look before then (LEAK_CHECK_MS).
 */
export const TEST_WAIT_TIMEOUT_SECONDS = 30;

/**
 * How long a leak check waits for the server to process the QUITs of closed connections. Well
 * under TEST_WAIT_TIMEOUT_SECONDS, so a leaked (idle, never closed) session is still there when
 * the check gives up; long, so a busy machine's slow QUIT processing is not called a leak.
 */
export const LEAK_CHECK_MS = (TEST_WAIT_TIMEOUT_SECONDS - 10) * 1000;

export interface ServerInfo {
  readonly host: string;
  readonly port: number;
  readonly adminUser: string;
  readonly adminPassword: string;
  /** CA that signed the server certificate; undefined when the server has no TLS. */
  readonly caFile?: string;
  /** A CA generated for the run that did NOT sign anything the server uses. */
  readonly untrustedCaFile?: string;
  /** pid and directory of a private server we started, for the teardown. */
  readonly pid?: number;
  readonly dir?: string;
}

export interface PrivateServerOptions {
  /**
   * @default 151, MariaDB's and MySQL's own default: the shared server takes every suite's
   * environments at once, and each environment now also connects once during its init
   */
  readonly maxConnections?: number;
  /** @default 30 (seconds), short so a leaked session cannot linger for the whole run */
  readonly waitTimeout?: number;
  /** `innodb_lock_wait_timeout` in seconds. @default - what the stack ships (SERVER_BOUNDS) */
  readonly lockWaitTimeout?: number;
  /** `sql_mode`. @default - what the stack ships (SERVER_BOUNDS) */
  readonly sqlMode?: string;
  /**
   * Replication role (replicated-pair.ts): a `primary` writes a binary log for GTID replication;
   * a `replica` is read-only, like an RDS read replica. @default - neither, no binary log
   */
  readonly replication?: { readonly role: 'primary' | 'replica'; readonly serverId: number };
  /**
   * Directory of another private server whose CA and certificate to reuse, so clients trust both
   * servers with one CA file (as one RDS CA covers a primary and its replicas).
   * @default - certificates made for this server
   */
  readonly certificatesFrom?: string;
}

/**
 * The parameter group's server bounds (lambda/lib/server-bounds.ts, the same constants
 * lib/database.ts ships) as mariadbd options. MySQL's `max_execution_time` is not among them:
 * MariaDB's nearest, `max_statement_time`, stops every statement (a CALL, DDL, the statements
 * inside routines), which MySQL's never does. It is set on read-only accounts instead
 * (mysqlExecutionTimeFor()).
 */
export function serverBoundOptions(options: PrivateServerOptions = {}): string[] {
  return [
    `--lock-wait-timeout=${SERVER_BOUNDS.lockWaitTimeoutSeconds}`,
    `--innodb-lock-wait-timeout=${options.lockWaitTimeout ?? SERVER_BOUNDS.innodbLockWaitTimeoutSeconds}`,
    `--sql-mode=${options.sqlMode ?? SERVER_BOUNDS.sqlMode}`,
  ];
}

/**
 * MySQL's `max_execution_time` stops top-level read-only SELECTs only: not a CALL, not the
 * SELECTs inside stored programs, not writes or DDL
 * (https://dev.mysql.com/doc/refman/8.4/en/server-system-variables.html#sysvar_max_execution_time).
 * A user whose grants only read (the reader) can send nothing but top-level SELECTs; on MariaDB
 * the account option MAX_STATEMENT_TIME on such users only gives the same bounds to what the
 * functions send: this runs that `ALTER USER` for `user` when the server is MariaDB and its
 * grants only read, else nothing (on MySQL the parameter group's max_execution_time applies as
 * is). Not covered: a top-level SELECT sent by a user that may also write, which MySQL would
 * bound and this does not (the shipped writer sends none; test/lambda/proxy-pinning.test.ts
 * records what it sends).
 */
export async function mysqlExecutionTimeFor(
  admin: { query(sql: string, values?: unknown[]): Promise<unknown> },
  grants: readonly Grant[],
  user: string
): Promise<void> {
  if (!readsOnly(grants)) return;
  const [[{ version }]] = (await admin.query('SELECT VERSION() AS version')) as [
    { version: string }[],
  ];
  if (!/MariaDB/i.test(version)) return;
  const seconds = SERVER_BOUNDS.maxExecutionTimeMs / 1000;
  await admin.query(`ALTER USER ?@'%' WITH MAX_STATEMENT_TIME ${seconds}`, [user]);
}

/**
 * Starts a throw-away mariadbd: own data directory, port and socket, TLS with a CA made for this
 * run, require_secure_transport=ON, a short wait_timeout. Takes about a second.
 */
export async function startPrivateServer(options: PrivateServerOptions = {}): Promise<ServerInfo> {
  // Before anything is created: a missing MariaDB is one line that says what to install.
  const binaries = findMariadb();
  const dir = mkdtempSync(path.join(tmpdir(), 'data-path-db-'));
  started.set(dir, { host: '127.0.0.1', port: 0, adminUser: 'root', adminPassword: '', dir });
  try {
    return await startIn(dir, binaries, options);
  } catch (error) {
    // A server that failed to start leaves nothing behind (process or directory).
    await stopPrivateServer(started.get(dir)!);
    throw error;
  }
}

async function startIn(
  dir: string,
  binaries: ReturnType<typeof findMariadb>,
  options: PrivateServerOptions
): Promise<ServerInfo> {
  const file = (name: string) => path.join(dir, name);
  if (options.certificatesFrom) {
    for (const name of ['ca.pem', 'untrusted-ca.pem', 'server.pem', 'server.key']) {
      copyFileSync(path.join(options.certificatesFrom, name), file(name));
    }
  } else {
    await makeCertificates(dir, binaries.openssl);
  }
  // A tmpdir of its own: mariadbd deletes every `#sql*` file in its tmpdir when it starts, so
  // servers sharing /tmp would delete each other's temporary tables mid-query.
  const tmp = file('tmp');
  mkdirSync(tmp);
  const env = { ...process.env, TMPDIR: tmp };
  await run(
    binaries.installDb,
    [
      '--no-defaults',
      `--datadir=${file('data')}`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--innodb-log-file-size=4M',
    ],
    { env }
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    binaries.mariadbd,
    [
      '--no-defaults',
      `--datadir=${file('data')}`,
      '--user=root',
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${file('mysqld.sock')}`,
      `--pid-file=${file('mysqld.pid')}`,
      `--log-error=${file('error.log')}`,
      `--tmpdir=${tmp}`,
      `--ssl-ca=${file('ca.pem')}`,
      `--ssl-cert=${file('server.pem')}`,
      `--ssl-key=${file('server.key')}`,
      '--require-secure-transport=ON',
      `--wait-timeout=${options.waitTimeout ?? TEST_WAIT_TIMEOUT_SECONDS}`,
      `--max-connections=${options.maxConnections ?? 151}`,
      ...serverBoundOptions(options),
      '--innodb-log-file-size=4M',
      '--innodb-buffer-pool-size=32M',
      '--innodb-flush-log-at-trx-commit=2', // a test server: speed over durability
      ...replicationOptions(options, file('binlog')),
      '--performance-schema=OFF',
    ],
    { stdio: 'ignore', detached: true, env }
  );
  child.unref();
  started.set(dir, { ...started.get(dir)!, pid: child.pid });
  const info: ServerInfo = {
    host: '127.0.0.1',
    port,
    adminUser: 'root',
    adminPassword: '',
    caFile: file('ca.pem'),
    untrustedCaFile: file('untrusted-ca.pem'),
    pid: child.pid,
    dir,
  };
  await waitUntilReady(info, child);
  return info;
}

/** A server of your own, from an admin URL (mysql://root:pw@host:3306) and the CA its certificate chains to. */
export function serverFromUrl(value: string, caFile: string | undefined): ServerInfo {
  const url = new URL(value);
  return {
    host: url.hostname,
    port: Number(url.port || 3306),
    adminUser: decodeURIComponent(url.username),
    adminPassword: decodeURIComponent(url.password),
    caFile,
  };
}

function replicationOptions(options: PrivateServerOptions, binlog: string): string[] {
  const replication = options.replication;
  if (!replication) {
    return ['--skip-log-bin'];
  }
  const common = [`--server-id=${replication.serverId}`];
  return replication.role === 'primary'
    ? [...common, `--log-bin=${binlog}`, '--binlog-format=ROW']
    : [...common, '--skip-log-bin', '--read-only=ON', '--skip-slave-start'];
}

/** Stops every private server this process started (a tool being interrupted). */
export async function stopAllPrivateServers(): Promise<void> {
  await Promise.all([...started.values()].map((info) => stopPrivateServer(info)));
}

export async function stopPrivateServer(info: ServerInfo): Promise<void> {
  if (info.dir) started.delete(info.dir);
  if (info.pid) {
    try {
      process.kill(info.pid, 'SIGTERM');
      // Wait on the condition (the process is gone), bounded so a stuck server fails the run.
      for (let i = 0; i < 400 && alive(info.pid); i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      if (alive(info.pid)) {
        process.kill(info.pid, 'SIGKILL');
      }
    } catch {
      // already gone
    }
  }
  if (info.dir) {
    rmSync(info.dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function makeCertificates(dir: string, program: string): Promise<void> {
  const openssl = (...args: string[]) => run(program, args, { cwd: dir });
  await Promise.all([
    makeCa(openssl, 'untrusted-ca', 'untrusted CA'),
    makeSignedCertificate(
      openssl,
      dir,
      { name: 'server', subject: 'localhost', subjectAltName: 'IP:127.0.0.1,DNS:localhost' },
      { name: 'ca', ready: makeCa(openssl, 'ca', 'data-path test CA') }
    ),
  ]);
}

async function waitUntilReady(info: ServerInfo, child: ChildProcess): Promise<void> {
  let exited = false;
  child.once('exit', () => (exited = true));
  let lastError: unknown;
  // Bounded for a server that hangs on start, not for speed: a loaded machine starts mariadbd slowly.
  const deadline = Date.now() + HANG_MS;
  while (!exited && Date.now() < deadline) {
    try {
      const connection = await adminConnect(info);
      await connection.end();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error(
    `mariadbd ${exited ? 'exited' : `did not answer within ${HANG_MS / 1000} s`} while starting ` +
      `(see ${info.dir}/error.log): ${String(lastError)}`
  );
}

/**
 * An admin connection over TLS (the server requires it), with the parameter group's lock waits
 * (like any other client of the stack); `withMigrationSession` gives it the migration's.
 */
export async function adminConnect(info: ServerInfo, database?: string) {
  const { readFileSync } = await import('node:fs');
  const connection = await createConnection({
    host: info.host,
    port: info.port,
    user: info.adminUser,
    password: info.adminPassword,
    database,
    ssl: info.caFile ? { ca: readFileSync(info.caFile, 'utf8') } : undefined,
    multipleStatements: false,
  });
  return connection;
}

/**
 * Gives an admin connection the migration's longer lock waits (server-bounds.ts): for DDL that
 * must wait for running statements (schema setup and clean-up, a queued ALTER TABLE).
 */
export async function withMigrationSession<T extends { query(sql: string): Promise<unknown> }>(
  connection: T
): Promise<T> {
  await connection.query(migrationSessionStatement());
  return connection;
}

/** The server a run uses, whichever it is, and how to give it back. */
export interface RunServer {
  readonly server: ServerInfo;
  /** "private mariadbd on 127.0.0.1:PORT (TLS required)" or "DATABASE_URL 127.0.0.1:3306 (TLS)". */
  readonly description: string;
  /** Stops a private server, or gives a server of your own its old settings back. */
  close(): Promise<void>;
}

/**
 * The server for a test run or a tool: a private mariadbd with TLS (the default), or the server
 * in DATABASE_URL (a user that may create databases and users and set globals; DB_TLS_CA_FILE for
 * its CA), which gets `options` with SET GLOBAL, so both paths behave alike.
 */
export async function openServer(
  options: Pick<PrivateServerOptions, 'maxConnections' | 'waitTimeout' | 'lockWaitTimeout'> = {},
  env: NodeJS.ProcessEnv = process.env
): Promise<RunServer> {
  const given = externalServer(env);
  if (!given) {
    const server = await startPrivateServer(options);
    return {
      server,
      description: `private mariadbd on ${server.host}:${server.port} (TLS required)`,
      close: () => stopPrivateServer(server),
    };
  }
  const server = serverFromUrl(given.url, given.caFile);
  let previous: Record<string, number | undefined>;
  try {
    previous = await setGlobals(server, {
      max_connections: options.maxConnections,
      wait_timeout: options.waitTimeout,
      innodb_lock_wait_timeout: options.lockWaitTimeout,
    });
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    throw new PrerequisiteError(
      `Cannot use DATABASE_URL (${server.host}:${server.port}): ${code ?? message}. Check its host, ` +
        'port, admin user and password (and DB_TLS_CA_FILE for TLS), that the server is running, ' +
        'or unset DATABASE_URL to use a private MariaDB server.'
    );
  }
  return {
    server,
    description: `DATABASE_URL ${server.host}:${server.port}${server.caFile ? ' (TLS)' : ''}`,
    close: async () => void (await setGlobals(server, previous)),
  };
}

/** Sets the given globals (undefined: left alone); returns the values they had. */
async function setGlobals(
  server: ServerInfo,
  globals: Record<string, number | undefined>
): Promise<Record<string, number | undefined>> {
  const given = Object.entries(globals).filter(([, value]) => value !== undefined);
  if (given.length === 0) return {};
  const admin = await adminConnect(server);
  try {
    const previous: Record<string, number> = {};
    for (const [name, value] of given) {
      const [rows] = await admin.query<RowDataPacket[]>(`SELECT @@GLOBAL.${name} AS v`);
      previous[name] = Number(rows[0].v);
      await admin.query(`SET GLOBAL ${name} = ?`, [value]);
    }
    return previous;
  } finally {
    await admin.end();
  }
}
