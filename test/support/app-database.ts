import { randomBytes } from 'node:crypto';
import { Connection, RowDataPacket } from 'mysql2/promise';
import { readDatabaseConfig, TlsSettings } from '../../lambda/lib/config';
import { StaticCredentials } from '../../lambda/lib/credentials';
import { Database, DatabaseOptions } from '../../lambda/lib/database';
import { grantClauses } from '../../lambda/lib/grants';
import { SchemaModule } from '../../lambda/lib/schema-module';
import { migrate } from '../../lambda/migrate';
import { DataFunctionDeclaration, usernameOf } from '../../lib/data-function-declaration';
import { AppRole, DATA_FUNCTIONS } from '../../lib/declared-functions';
import { pollUntil } from './poll';
import {
  LEAK_CHECK_MS,
  ServerInfo,
  adminConnect,
  mysqlExecutionTimeFor,
  withMigrationSession,
} from './private-server';
import { readState } from './state';

export interface DbUser {
  readonly user: string;
  password: string;
}

export interface Session {
  id: number;
  user: string;
  command: string;
  state: string | null;
  info: string | null;
}

/** What a test database needs of the declared functions and schema (a fork's fixture passes its own). */
export interface AppDefinition<R extends string> {
  readonly functions: readonly (DataFunctionDeclaration & { readonly name: R })[];
  /** @default SCHEMA_MODULES */
  readonly schemaModules?: readonly SchemaModule[];
}

/**
 * A schema of its own for one test file, migrated with the shipped migrate(), and one
 * least-privilege user per declared function (lib/declared-functions.ts) with its declared
 * grants, so files never see each other's rows or sessions even when jest runs them in parallel.
 */
export class AppDatabase<R extends string = AppRole> {
  private constructor(
    readonly server: ServerInfo,
    readonly database: string,
    readonly users: Record<R, DbUser>,
    private adminConnection: Connection,
    private readonly functions: AppDefinition<R>['functions']
  ) {}

  /** The "third client": an admin connection with the app schema as default database. */
  get admin(): Connection {
    return this.adminConnection;
  }

  static create(label: string, server?: ServerInfo): Promise<AppDatabase>;
  static create<R extends string>(
    label: string,
    server: ServerInfo | undefined,
    app: AppDefinition<R>
  ): Promise<AppDatabase<R>>;
  static async create<R extends string>(
    label: string,
    server: ServerInfo = readState().server,
    app: AppDefinition<R> = { functions: DATA_FUNCTIONS } as unknown as AppDefinition<R>
  ): Promise<AppDatabase<R>> {
    const suffix = randomBytes(3).toString('hex');
    const database = `t_${label}_${suffix}`;
    const admin = await openAdmin(server);
    await admin.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4`);
    await admin.changeUser({ database });
    await migrate(admin, { modules: app.schemaModules });
    const users = {} as Record<R, DbUser>;
    for (const { name, grants } of app.functions) {
      const user = {
        user: `${usernameOf(name)}_${suffix}`,
        password: randomBytes(12).toString('hex'),
      };
      await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user.user, '%', user.password]);
      for (const privileges of grantClauses(grants, database)) {
        await admin.query(`GRANT ${privileges} TO ?@?`, [user.user, '%']);
      }
      await mysqlExecutionTimeFor(admin, grants, user.user);
      users[name] = user;
    }
    return new AppDatabase(server, database, users, admin, app.functions);
  }

  /** DATABASE_URL-style configuration for a function running as `role`. */
  env(role: R, overrides: { port?: number } = {}): Record<string, string> {
    const { user, password } = this.users[role];
    const port = overrides.port ?? this.server.port;
    const tls = this.server.caFile ? '?tls=true' : '';
    return {
      DATABASE_URL: `mysql://${user}:${password}@${this.server.host}:${port}/${this.database}${tls}`,
      ...(this.server.caFile ? { DB_TLS_CA_FILE: this.server.caFile } : {}),
      ...this.declaredEnv(role),
    };
  }

  /** What the stack sets on a function from its declaration (lib/data-functions.ts). */
  declaredEnv(role: R): Record<string, string> {
    const declaration = this.functions.find(({ name }) => name === role)!;
    return { DB_WRITES_IDEMPOTENT: String(declaration.idempotentWrites) };
  }

  /** The TLS settings the handlers use against this server (undefined without TLS). */
  clientTls(): TlsSettings | undefined {
    const config = readDatabaseConfig(this.env(Object.keys(this.users)[0] as R));
    if (config.kind !== 'url') throw new Error('expected DATABASE_URL configuration');
    return config.tls;
  }

  /** The shipped data layer, in-process, connecting as `role` (with `options` on top). */
  inProcess(role: R, options: Omit<DatabaseOptions, 'credentials' | 'tls'> = {}): Database {
    const config = readDatabaseConfig(this.env(role));
    if (config.kind !== 'url') throw new Error('expected DATABASE_URL configuration');
    return new Database({
      ...options,
      credentials: new StaticCredentials(config.credentials),
      tls: config.tls,
    });
  }

  /** The role's RDS-format secret (what Secrets Manager holds for a deployed function). */
  secret(
    role: R,
    overrides: { port?: number; password?: string } = {}
  ): { host: string; port: number; username: string; password: string; dbname: string } {
    return {
      host: this.server.host,
      port: overrides.port ?? this.server.port,
      username: this.users[role].user,
      password: overrides.password ?? this.users[role].password,
      dbname: this.database,
    };
  }

  /**
   * Server sessions of this file's function users (the admin connection is not counted). The
   * admin connection idles between polls: see onAdmin().
   */
  sessions(): Promise<Session[]> {
    return this.onAdmin(() => this.readSessions());
  }

  /**
   * Runs `work` (read-only or idempotent statements only) on the admin connection. When the
   * server has closed that connection for idling (wait_timeout: 6 s in the demo), it is opened
   * again, as it was, and `work` runs once more instead of failing the caller.
   */
  private async onAdmin<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!isClosedConnection(error)) throw error;
      this.adminConnection = await openAdmin(this.server, this.database);
      return work();
    }
  }

  private async readSessions(): Promise<Session[]> {
    const [rows] = await this.admin.query<RowDataPacket[]>(
      'SELECT id, user, command, state, info FROM information_schema.PROCESSLIST WHERE user IN (?) ORDER BY id',
      [Object.values<DbUser>(this.users).map(({ user }) => user)]
    );
    return rows.map((row) => ({
      id: row.id,
      user: row.user,
      command: row.command,
      state: row.state,
      info: row.info,
    }));
  }

  /**
   * Waits until the server has no session of ours left. A closed connection's QUIT is processed
   * by the server asynchronously, so this polls rather than reading once; it gives up before the
   * server's wait_timeout could close a leaked session for us (LEAK_CHECK_MS).
   */
  waitForNoSessions(): Promise<Session[]> {
    return pollUntil(
      () => this.sessions(),
      (s) => s.length === 0,
      { withinMs: LEAK_CHECK_MS }
    );
  }

  /** Polls until `predicate` holds for the sessions (bounded); returns the last ones seen. */
  waitForSessions(predicate: (sessions: Session[]) => boolean): Promise<Session[]> {
    return pollUntil(() => this.sessions(), predicate);
  }

  async dispose(): Promise<void> {
    await this.onAdmin(async () => {
      for (const { user } of Object.values<DbUser>(this.users)) {
        await this.admin.query('DROP USER IF EXISTS ?@?', [user, '%']);
      }
      await this.admin.query(`DROP DATABASE IF EXISTS ${this.database}`);
    });
    await this.admin.end();
  }
}

/**
 * An admin connection with the migration's lock waits (schema set-up and clean-up are DDL: they
 * wait for locks as long as the migration does), in `database` when given.
 */
async function openAdmin(server: ServerInfo, database?: string): Promise<Connection> {
  const admin = await withMigrationSession(await adminConnect(server, database));
  // The server closing it while idle arrives as an error event: reported by the next query.
  admin.on('error', () => undefined);
  return admin;
}

/** mysql2's errors for a connection the server (or the network) has closed. */
function isClosedConnection(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return code === 'PROTOCOL_CONNECTION_LOST' || /closed state/.test(String(message));
}
