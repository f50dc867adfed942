import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IDependable } from 'constructs';
import { SERVER_BOUNDS } from '../lambda/lib/server-bounds';
import { EXPORTED_LOGS, ownExportedLogs } from './exported-logs';
import { incarnationName } from './incarnation-name';
import { PasswordRotation } from './password-rotation';

/** A database user's secret and the schedule that rotates it. */
export interface DatabaseUserSecret {
  readonly secret: secretsmanager.ISecret;
  readonly rotationSchedule: secretsmanager.RotationSchedule;
}

import { PASSWORD_EXCLUDED_CHARACTERS } from '../lambda/lib/password-policy';

export { PASSWORD_EXCLUDED_CHARACTERS };

/**
 * The engine version, pinned to a minor, with automatic minor upgrades OFF: the instance runs
 * exactly what the template says, so RDS upgrading it in a maintenance window can no longer leave
 * the template behind (drift, and an update that asks for the older minor). A major-only
 * EngineVersion ('8.4') with automatic upgrades on was the alternative: RDS's ModifyDBInstance
 * documents that a major-only version never downgrades ("If you specify only a major version,
 * Amazon RDS updates the DB instance to the default minor version if the current minor version is
 * lower", https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html),
 * but CloudFormation's schema for AWS::RDS::DBInstance lists only full versions and the synth's
 * CloudFormation validation rejects '8.4' (E9006), and no AWS page found says CreateDBInstance
 * accepts it for MySQL. To upgrade: bump this constant (`aws rds describe-db-engine-versions
 * --engine mysql --engine-version 8.4 --query 'DBEngineVersions[].ValidUpgradeTarget'`) and
 * deploy; the instance restarts once. When RDS retires this minor a new stage can no longer be
 * created with it: `npm run preflight` checks that the region still offers it.
 * Exported so checks outside the stack ask RDS about the very version deployed.
 */
export const MYSQL_ENGINE_VERSION = '8.4.10';
/** The major version: names the parameter group family (mysql8.4). */
export const MYSQL_MAJOR_VERSION = '8.4';

export interface DatabaseProps {
  /** Network the instance lives in. */
  readonly vpc: ec2.IVpc;
  /** Subnets of the instance (isolated: it never gets a public address). */
  readonly vpcSubnets: ec2.SubnetSelection;
  /** Secrets Manager endpoint the rotation function calls; it is opened to it on 443. */
  readonly secretsManagerEndpoint: ec2.IConnectable & IDependable;
  /** `max_connections`, from `connectionBudget()`: the functions' concurrency is derived from it too. */
  readonly maxConnections: number;
  /**
   * Instance class.
   * @default db.t4g.micro
   */
  readonly instanceType?: ec2.InstanceType;
  /**
   * Seconds MySQL keeps an idle connection before closing it (`wait_timeout` and `interactive_timeout`).
   * @default 300 — a connection left by a frozen or crashed environment is gone within 5 minutes
   * instead of MySQL's 8 hours, while an operator's idle client survives a short pause
   */
  readonly idleTimeoutSeconds?: number;
  /**
   * Name of the application schema created with the instance.
   * @default 'app'
   */
  readonly databaseName?: string;
  /**
   * A synchronous standby in a second AZ.
   * @default false
   */
  readonly multiAz?: boolean;
  /**
   * Allocated gp3 storage in GiB.
   * @default 20 — the smallest gp3 volume RDS for MySQL allows
   */
  readonly allocatedStorageGiB?: number;
  /**
   * Storage autoscaling ceiling in GiB.
   * @default 50
   */
  readonly maxAllocatedStorageGiB?: number;
  /**
   * How long automated backups (and point-in-time recovery) are kept.
   * @default Duration.days(7)
   */
  readonly backupRetention?: Duration;
  /**
   * Refuse to delete the instance.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * What happens to the instance when it leaves the stack.
   * @default RemovalPolicy.SNAPSHOT
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Retention of the exported error and slow-query logs, and of the rotation function's log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * RDS instance identifier; also names the exported log groups. A fixed identifier collides with
   * the log groups a previous stack of that name retained: a re-create then fails until you delete
   * them (`aws logs delete-log-group`).
   * @default - `<stack name>-<construct id>-<first 8 hex digits of the stack's id>`, lower-cased:
   * unique per stack incarnation, so a stack created again after a delete or a rolled-back create
   * never meets the log groups an earlier one left behind
   */
  readonly instanceIdentifier?: string;
  /**
   * How often the admin and user passwords are rotated.
   * @default Duration.days(30)
   */
  readonly rotatePasswordsAfter?: Duration;
}

/**
 * RDS for MySQL 8.4, private and encrypted, with a parameter group tuned for short-lived
 * Lambda connections and durable writes, and a rotated admin secret.
 */
export class Database extends Construct {
  public readonly instance: rds.DatabaseInstance;
  /** Admin credentials (RDS JSON format). Only the schema migration should read it. */
  public readonly adminSecret: secretsmanager.ISecret;
  public readonly parameterGroup: rds.ParameterGroup;
  public readonly databaseName: string;
  public readonly allocatedStorageGiB: number;
  /** Storage autoscaling ceiling: read replicas get the same. */
  public readonly maxAllocatedStorageGiB: number;
  /** The engine version the instance runs (MYSQL_ENGINE_VERSION): read replicas run it too. */
  public readonly engineVersion: string = MYSQL_ENGINE_VERSION;
  /** Off: minors change only when MYSQL_ENGINE_VERSION does. Read replicas follow it. */
  public readonly autoMinorVersionUpgrade = false;
  /** CA that signs the instance's server certificate; clients trust only its regional root. */
  public readonly caCertificate = rds.CaCertificate.RDS_CA_RSA2048_G1;
  /** Retention of the instance's exported logs: read replicas export theirs with the same. */
  public readonly logRetention: logs.RetentionDays;
  /** Rotates the admin secret and every user secret (lambda/rotate.ts). */
  public readonly rotation: PasswordRotation;
  /**
   * The admin secret's schedule. Its first rotation starts when it is created: make it depend on
   * whatever logs in as admin during the deploy (the schema migration).
   */
  public readonly adminRotationSchedule: secretsmanager.RotationSchedule;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const idleTimeout = props.idleTimeoutSeconds ?? 300;
    if (!Number.isInteger(idleTimeout) || idleTimeout < 60 || idleTimeout > 900) {
      throw new Error(
        `idleTimeoutSeconds must be a whole number from 60 to 900, got ${idleTimeout}: ` +
          'below a minute drops operators mid-thought, above 15 minutes keeps dead Lambda connections too long.'
      );
    }
    if (!Number.isInteger(props.maxConnections) || props.maxConnections < 10) {
      throw new Error(
        `maxConnections must be a whole number of at least 10, got ${props.maxConnections}.`
      );
    }
    this.databaseName = props.databaseName ?? 'app';
    this.allocatedStorageGiB = props.allocatedStorageGiB ?? 20;
    this.maxAllocatedStorageGiB = props.maxAllocatedStorageGiB ?? 50;
    // 8.4 is the LTS line (8.0 left standard support). See MYSQL_ENGINE_VERSION for the pin.
    const engine = rds.DatabaseInstanceEngine.mysql({
      version: rds.MysqlEngineVersion.of(this.engineVersion, MYSQL_MAJOR_VERSION),
    });
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.SNAPSHOT;
    if (
      props.instanceIdentifier !== undefined &&
      (!/^[a-z][a-z0-9-]{0,62}$/.test(props.instanceIdentifier) ||
        /--|-$/.test(props.instanceIdentifier))
    ) {
      throw new Error(
        `instanceIdentifier "${props.instanceIdentifier}" is not a valid RDS identifier: 1 to 63 letters, digits ` +
          'or single hyphens, starting with a letter.'
      );
    }
    // An identifier known before the instance exists lets the log groups exist (with their
    // retention) before RDS writes to them, instead of a log-retention custom resource; it also
    // makes an accidental replacement of the database fail instead of silently creating a new,
    // empty one. The stack id's suffix makes it unique per stack incarnation: prod retains its log
    // groups on delete, and a stack created again (after `cdk destroy`, or after a first create
    // that rolled back) must not collide with them ("already exists").
    const instanceIdentifier = props.instanceIdentifier ?? incarnationName(this, id);
    this.logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const logGroups = ownExportedLogs(this, instanceIdentifier, this.logRetention, removalPolicy);

    this.parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: 'MySQL 8.4 tuned for per-invocation Lambda connections and durable writes',
      parameters: {
        wait_timeout: String(idleTimeout),
        interactive_timeout: String(idleTimeout),
        // A committed write survives a crash: flush the redo log and the binlog on every commit.
        innodb_flush_log_at_trx_commit: '1',
        sync_binlog: '1',
        // Every wait of a function's statement ends on the server, with a named error, before
        // the client's statement timeout (and that before the Lambda timeout): a write reported
        // as failed never commits later, and no session outlives its invocation. The relation
        // and the numbers live in lambda/lib/server-bounds.ts; the migration raises the lock
        // waits for its own session.
        lock_wait_timeout: String(SERVER_BOUNDS.lockWaitTimeoutSeconds), // metadata locks
        innodb_lock_wait_timeout: String(SERVER_BOUNDS.innodbLockWaitTimeoutSeconds), // row locks
        max_execution_time: String(SERVER_BOUNDS.maxExecutionTimeMs), // read-only SELECT, in ms
        // Pinned to MySQL 8.4's default. The functions' values do not depend on it (they are sent
        // as hex literals, lambda/lib/sql-literals.ts), but other clients' escaping may.
        sql_mode: SERVER_BOUNDS.sqlMode,
        // Refuse any connection that is not TLS.
        require_secure_transport: '1',
        // Pinned (from connectionBudget(), at most what RDS's own formula gives the class) rather
        // than left to RDS, so the functions' reserved concurrency and the alarm are computed from
        // the very number the server enforces.
        max_connections: String(props.maxConnections),
        slow_query_log: '1',
        long_query_time: '1',
        log_output: 'FILE',
      },
    });

    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      engine,
      instanceType:
        props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      port: 3306,
      publiclyAccessible: false,
      multiAz: props.multiAz ?? false,
      databaseName: this.databaseName,
      // Our own secret rather than fromGeneratedSecret(), so it carries dbname like the user secrets.
      credentials: rds.Credentials.fromSecret(
        new rds.DatabaseSecret(this, 'AdminSecret', {
          username: 'admin',
          dbname: this.databaseName,
          excludeCharacters: PASSWORD_EXCLUDED_CHARACTERS,
        })
      ),
      parameterGroup: this.parameterGroup,
      caCertificate: this.caCertificate,
      storageType: rds.StorageType.GP3,
      allocatedStorage: this.allocatedStorageGiB,
      maxAllocatedStorage: this.maxAllocatedStorageGiB,
      storageEncrypted: true,
      backupRetention: props.backupRetention ?? Duration.days(7),
      copyTagsToSnapshot: true,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy,
      instanceIdentifier,
      cloudwatchLogsExports: [...EXPORTED_LOGS],
      // Minors change only when MYSQL_ENGINE_VERSION does (see there).
      autoMinorVersionUpgrade: this.autoMinorVersionUpgrade,
    });
    logGroups.forEach((logGroup) => this.instance.node.addDependency(logGroup));
    this.adminSecret = this.instance.secret!;

    this.rotation = new PasswordRotation(this, 'Rotation', {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      instance: this.instance,
      caCertificate: this.caCertificate,
      secretsManagerEndpoint: props.secretsManagerEndpoint,
      adminSecret: this.adminSecret,
      rotateAfter: props.rotatePasswordsAfter,
      logRetention: props.logRetention,
    });
    this.adminRotationSchedule = this.rotation.rotate(this.adminSecret);

    Validations.of(this.instance).acknowledge({
      id: 'AwsSolutions-RDS11',
      reason:
        'The default port is kept: the instance is in isolated subnets and accepts 3306 only from named security groups; a non-standard port adds no protection.',
    });
    if (!(props.multiAz ?? false)) {
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-RDS3',
        reason:
          'Multi-AZ was turned off by the caller: the sandbox stage trades availability for half the instance cost; prod turns it on.',
      });
    }
    if (!(props.deletionProtection ?? true)) {
      Validations.of(this.instance).acknowledge({
        id: 'AwsSolutions-RDS10',
        reason:
          'Deletion protection was turned off by the caller: the sandbox stage must be destroyable with `cdk destroy`; prod turns it on.',
      });
    }
  }

  /**
   * A generated secret (RDS JSON format, attached to the instance so it holds host, port and
   * dbname) for a database user, rotated with alternating users (`<username>` and
   * `<username>_clone`) on the same schedule as the admin. Both users are created in the
   * database by `SchemaMigration`: make `rotationSchedule` depend on it, or a rotation may run
   * before they exist.
   */
  public addUserSecret(id: string, username: string): DatabaseUserSecret {
    const secret = new rds.DatabaseSecret(this, `${id}Secret`, {
      username,
      dbname: this.databaseName,
      excludeCharacters: PASSWORD_EXCLUDED_CHARACTERS,
    }).attach(this.instance);
    return { secret, rotationSchedule: this.rotation.rotate(secret) };
  }
}
