import { setTimeout as pause } from 'node:timers/promises';
import { RowDataPacket } from 'mysql2/promise';
import {
  PrerequisiteError,
  externalServer,
  localDatabaseProblem,
} from '../../test/support/prerequisites';
import {
  ServerInfo,
  adminConnect,
  serverFromUrl,
  startPrivateServer,
  stopPrivateServer,
} from '../../test/support/private-server';

export interface ServerSettings {
  /** Server-wide connection limit for the run. */
  readonly maxConnections: number;
  /** Seconds before the server closes an idle session. */
  readonly waitTimeout: number;
  /** Seconds a statement waits for a row lock. @default 50 (the server default) */
  readonly lockWaitTimeout?: number;
}

export interface RunServer {
  readonly server: ServerInfo;
  /** "private mariadbd (TLS) on 127.0.0.1:PORT" or "DATABASE_URL 127.0.0.1:3306". */
  readonly description: string;
  /** Stops a private server, or restores the settings of a given one. */
  close(): Promise<void>;
}

const GLOBALS = {
  maxConnections: 'max_connections',
  waitTimeout: 'wait_timeout',
  lockWaitTimeout: 'innodb_lock_wait_timeout',
} as const;

/** The `--help` lines of the tools that run a database (demo, load, bench). */
export const LOCAL_DATABASE_NOTES = [
  'Database: a private mariadbd with TLS (mariadbd and mariadb-install-db on PATH, in /usr/sbin or',
  "Homebrew's prefix), or your own server: DATABASE_URL=mysql://root:pw@127.0.0.1:3306 (a user that",
  'may create databases and users and set globals) and DB_TLS_CA_FILE for its CA.',
];

/** Throws one line saying what to install or set when there is no database to run against. */
export function requireLocalDatabase(env: NodeJS.ProcessEnv = process.env): void {
  const problem = localDatabaseProblem(env);
  if (problem) throw new PrerequisiteError(problem);
}

/**
 * The server a command runs against: a private mariadbd with TLS (the default), or the server in
 * DATABASE_URL (a user that may create databases, users and set globals; DB_TLS_CA_FILE for its
 * CA). Either way the settings are applied with SET GLOBAL so both paths behave alike, and a
 * given server gets its old values back at the end.
 */
export async function openRunServer(
  settings: ServerSettings,
  env: NodeJS.ProcessEnv = process.env
): Promise<RunServer> {
  const given = externalServer(env);
  const url = given?.url;
  const server: ServerInfo = given
    ? serverFromUrl(given.url, given.caFile)
    : await startPrivateServer({
        maxConnections: settings.maxConnections,
        waitTimeout: settings.waitTimeout,
      });
  const admin = await adminConnect(server);
  const previous: Record<string, string> = {};
  try {
    for (const [key, variable] of Object.entries(GLOBALS)) {
      const value = settings[key as keyof ServerSettings];
      if (value !== undefined) {
        const [rows] = await admin.query<RowDataPacket[]>('SELECT @@GLOBAL.' + variable + ' AS v');
        previous[variable] = String(rows[0].v);
        await admin.query(`SET GLOBAL ${variable} = ?`, [value]);
      }
    }
  } finally {
    await admin.end();
  }
  return {
    server,
    description: url
      ? `DATABASE_URL ${server.host}:${server.port}${server.caFile ? ' (TLS)' : ''}`
      : `private mariadbd on ${server.host}:${server.port} (TLS required)`,
    close: async () => {
      if (!url) {
        await stopPrivateServer(server);
        return;
      }
      const restore = await adminConnect(server);
      try {
        for (const [variable, value] of Object.entries(previous)) {
          await restore.query(`SET GLOBAL ${variable} = ?`, [Number(value)]);
        }
      } finally {
        await restore.end();
      }
    },
  };
}

/** Samples a number over time (e.g. server sessions) until stopped; keeps the peak. */
export class Sampler {
  readonly points: [number, number][] = [];
  private running = true;
  private loop?: Promise<void>;
  private readonly started = Date.now();

  constructor(
    private readonly read: () => Promise<number>,
    private readonly everyMs = 50,
    /** Hard bound on the samples kept, whatever happens to the caller. */
    private readonly maxSamples = 20_000
  ) {}

  start(): this {
    this.loop = (async () => {
      while (this.running && this.points.length < this.maxSamples) {
        try {
          this.points.push([(Date.now() - this.started) / 1000, await this.read()]);
        } catch {
          // a missed sample is not worth failing the run for
        }
        await pause(this.everyMs);
      }
    })();
    return this;
  }

  get peak(): number {
    return Math.max(0, ...this.points.map(([, y]) => y));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
