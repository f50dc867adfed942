import { randomBytes } from 'node:crypto';
import { AppRole, DATA_FUNCTIONS } from '../../lib/declared-functions';
import { declaredMigrationUsers, eventUsers } from './migration-users';
import { PASSWORD_EXCLUDED_CHARACTERS, PASSWORD_LENGTH } from '../../lambda/lib/password-policy';
import { RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from './app-database';
import { adminConnect } from './private-server';
import { LambdaEnvironment } from './lambda-environment';
import { pollUntil } from './poll';
import { SimulatedEnvironment } from './simulated-environment';
import { SecretsEndpoint } from './secrets-endpoint';
import { readState } from './state';

/** The four steps, in the order Secrets Manager calls them. */
export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

/**
 * A test schema as a deployed stack has it: an admin user of its own (never the run's root,
 * whose password other test files use), a secret per function user and one for that admin, all
 * kept by the Secrets Manager stand-in the way Secrets Manager keeps versions and labels, the
 * users made by the bundled migration (both users of each role), and the bundled rotation
 * function, configured as lib/password-rotation.ts configures it.
 */
export class RotatingStack {
  private constructor(
    readonly db: AppDatabase,
    readonly secrets: SecretsEndpoint,
    readonly rotator: LambdaEnvironment,
    readonly adminUser: string,
    readonly arns: Record<AppRole | 'admin', string>
  ) {}

  static async start(label: string): Promise<RotatingStack> {
    const db = await AppDatabase.create(label);
    const suffix = randomBytes(3).toString('hex');
    const adminUser = `rotadmin_${suffix}`;
    const adminPassword = randomBytes(12).toString('hex');
    // What the RDS master user may do here: make users, grant on the app schema.
    await db.admin.query("CREATE USER ?@'%' IDENTIFIED BY ?", [adminUser, adminPassword]);
    await db.admin.query(`GRANT ALL ON ${db.database}.* TO ?@'%' WITH GRANT OPTION`, [adminUser]);
    await db.admin.query("GRANT CREATE USER ON *.* TO ?@'%'", [adminUser]);
    const secrets = await SecretsEndpoint.start();
    const arn = (name: string) =>
      `arn:aws:secretsmanager:us-east-1:123456789012:secret:${db.database}-${name}`;
    const arns = {
      admin: arn('admin'),
      ...Object.fromEntries(DATA_FUNCTIONS.map(({ name }) => [name, arn(name)])),
    } as Record<AppRole | 'admin', string>;
    secrets.addRotatingSecret(arns.admin, {
      ...db.secret('writer'),
      username: adminUser,
      password: adminPassword,
    });
    for (const { name } of DATA_FUNCTIONS) {
      secrets.addRotatingSecret(arns[name], db.secret(name));
    }
    const tls: Record<string, string> = db.server.caFile
      ? { DB_TLS_CA_FILE: db.server.caFile }
      : {};
    const rotator = await LambdaEnvironment.start('rotation', {
      ...secrets.env(),
      ...tls,
      AWS_ACCESS_KEY_ID: 'rotation',
      EXCLUDE_CHARACTERS: PASSWORD_EXCLUDED_CHARACTERS,
      PASSWORD_LENGTH: String(PASSWORD_LENGTH),
      ADMIN_SECRET_ARN: arns.admin,
    });
    const stack = new RotatingStack(db, secrets, rotator, adminUser, arns);
    await stack.migrate();
    return stack;
  }

  /** Runs the bundled migration as CloudFormation would on an update (it makes the users). */
  async migrate(): Promise<void> {
    const migration = await LambdaEnvironment.start('migration', {
      ...this.secrets.env(),
      DB_SECRET_ARN: this.arns.admin,
      // What lib/schema-migration.ts sets: the users are the function's own configuration.
      MIGRATION_USERS: JSON.stringify(this.migrationUsers()),
      AWS_ACCESS_KEY_ID: 'migration',
      ...(this.db.server.caFile ? { DB_TLS_CA_FILE: this.db.server.caFile } : {}),
    });
    try {
      await migration.invoke(
        {
          RequestType: 'Update',
          PhysicalResourceId: `schema:${this.db.database}`,
          ResourceProperties: {
            Users: eventUsers(this.migrationUsers()),
            SchemaVersion: 'test',
          },
        },
        { remainingMs: 300_000 } // the migration function's timeout (lib/schema-migration.ts)
      );
    } finally {
      await migration.stop();
    }
  }

  private migrationUsers() {
    return declaredMigrationUsers((role) => this.arns[role]);
  }

  /** One step of the bundled rotation function, as Secrets Manager invokes it. */
  step(secretId: string, token: string, Step: string): Promise<unknown> {
    return this.rotator.invoke(
      { SecretId: secretId, ClientRequestToken: token, Step },
      { remainingMs: 30_000 }
    );
  }

  /** The rows of `users`, read on a connection of its own (the schema's admin one may have idled out). */
  async rows(): Promise<{ email: string; name: string }[]> {
    const admin = await adminConnect(this.db.server, this.db.database);
    try {
      const [rows] = await admin.query<RowDataPacket[]>('SELECT email, name FROM users');
      return rows.map((r) => ({ email: r.email, name: r.name }));
    } finally {
      await admin.end();
    }
  }

  async stop(): Promise<void> {
    await this.rotator.stop();
    await this.secrets.stop();
    const admin = await adminConnect(this.db.server);
    try {
      for (const user of [
        this.adminUser,
        `${this.db.users.writer.user}_clone`,
        `${this.db.users.reader.user}_clone`,
      ]) {
        await admin.query("DROP USER IF EXISTS ?@'%'", [user]);
      }
    } finally {
      await admin.end();
    }
    await this.db.dispose();
  }
}

export interface LoadTally {
  invocations: number;
  failures: string[];
}

/**
 * Writer and reader environments invoking back to back until stopped: each writer upserts its own
 * email with names 1, 2, 3 ..., so its last acknowledged name is what the row must hold at the
 * end; each reader reads one of those emails.
 */
export class SteadyLoad {
  readonly tally: LoadTally = { invocations: 0, failures: [] };
  /** Per writer email, the last name whose write was acknowledged. */
  readonly acknowledged = new Map<string, number>();
  private running = true;
  private readonly loops: Promise<void>[];
  private readonly completed = new Map<SimulatedEnvironment, number>();

  constructor(
    private readonly writers: SimulatedEnvironment[],
    private readonly readers: SimulatedEnvironment[]
  ) {
    this.loops = [
      ...writers.map((env, i) => this.loop(env, (n) => ({ email: email(i), name: String(n) }))),
      ...readers.map((env, i) => this.loop(env, () => ({ email: email(i % writers.length) }))),
    ];
  }

  private async loop(env: SimulatedEnvironment, event: (n: number) => object): Promise<void> {
    for (let n = 1; this.running; n++) {
      const sent = event(n) as { email: string; name?: string };
      const outcome = await env.invoke(sent);
      this.record(outcome, env.label);
      if (outcome.ok && sent.name !== undefined) this.acknowledged.set(sent.email, n);
      this.completed.set(env, (this.completed.get(env) ?? 0) + 1);
    }
  }

  record(outcome: { ok: boolean; error?: string }, label: string): void {
    this.tally.invocations++;
    if (!outcome.ok) this.tally.failures.push(`${label}: ${outcome.error}`);
  }

  /** Resolves once every environment has completed `count` more invocations (a condition, not a sleep). */
  async invocationsEach(count = 1): Promise<void> {
    const all = [...this.writers, ...this.readers];
    const target = new Map(all.map((env) => [env, (this.completed.get(env) ?? 0) + count]));
    await pollUntil(
      async () => all.every((env) => (this.completed.get(env) ?? 0) >= target.get(env)!),
      (done) => done,
      { everyMs: 5 }
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

export function email(i: number): string {
  return `load-${i}@example.com`;
}

/** Starts a bundled data function in an environment of its own. */
export function startEnvironment(
  role: AppRole,
  label: string,
  env: Record<string, string>
): Promise<SimulatedEnvironment> {
  return SimulatedEnvironment.start(label, readState().bundles[role].file, env, { quiet: true });
}
