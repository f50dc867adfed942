import { Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { EXPORTED_LOGS, ownExportedLogs } from './exported-logs';
import { incarnationName } from './incarnation-name';

export interface ReadReplicasProps {
  /** The primary they replicate. */
  readonly source: rds.IDatabaseInstance;
  /** How many replicas (0 creates nothing). */
  readonly count: number;
  readonly instanceType: ec2.InstanceType;
  /**
   * The primary's parameter group. A replica does not inherit its source's group: without one it
   * gets the engine's default group, which has none of the stack's server bounds,
   * require_secure_transport or pinned max_connections. With the same group and the same class
   * the replica's max_connections equals the primary's. read_only stays at its default,
   * `{TrueIfReplica}`, so the replicas refuse writes.
   * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.html
   */
  readonly parameterGroup: rds.IParameterGroup;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  /**
   * The primary's engine version (a full `major.minor.patch`, as MYSQL_ENGINE_VERSION): the
   * replicas run it unless `engineVersion` says otherwise.
   */
  readonly sourceEngineVersion: string;
  /**
   * The replicas' engine version, for the first step of an upgrade (docs/upgrades.md): RDS wants
   * read replicas upgraded before their source, and CloudFormation updates a replica only after
   * the source it references, so the replicas go first in a deploy of their own. Never older
   * than the source, and in the same major version (they share its parameter group).
   * @default - `sourceEngineVersion`
   */
  readonly engineVersion?: string;
  /**
   * The primary's AutoMinorVersionUpgrade: the replicas follow it, so RDS never upgrades one side
   * alone in a maintenance window.
   */
  readonly autoMinorVersionUpgrade: boolean;
  /**
   * Storage autoscaling ceiling in GiB: the primary's. A replica's storage does not grow with its
   * source's; without a ceiling of its own it stays at the allocation it was created with, and
   * a full replica stops replicating.
   * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html
   */
  readonly maxAllocatedStorageGiB: number;
  /** @default RemovalPolicy.DESTROY: a replica holds no data the primary has not */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Retention of the replicas' exported error and slow-query logs (the reader's queries run
   * here, so its slow ones are logged here).
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * N RDS read replicas of the primary, each behind the security group CDK makes for it, trusted
 * with the primary's CA. The reader function gets their endpoints as DB_REPLICA_HOSTS
 * (`hostList`); its user and secret work there too, since a replica copies the primary's users.
 */
export class ReadReplicas extends Construct {
  public readonly instances: rds.DatabaseInstanceReadReplica[] = [];

  constructor(scope: Construct, id: string, props: ReadReplicasProps) {
    super(scope, id);
    if (!Number.isInteger(props.count) || props.count < 0 || props.count > 15) {
      throw new Error(
        `readReplicas must be a whole number from 0 to 15 (RDS for MySQL's limit per source), got ${props.count}.`
      );
    }
    const engineVersion = props.engineVersion ?? props.sourceEngineVersion;
    assertReplicaVersion(engineVersion, props.sourceEngineVersion);
    for (let i = 1; i <= props.count; i++) {
      // A name known before the replica exists, so its log groups can exist first (as the
      // primary's, lib/database.ts). Unique per stack incarnation (lib/incarnation-name.ts).
      const instanceIdentifier = incarnationName(this, `${id}-replica${i}`);
      const logGroups = ownExportedLogs(
        new Construct(this, `Replica${i}Logs`),
        instanceIdentifier,
        props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        // Deleted with the replica (as the replica is): a retained group would keep its name
        // (the stack id and the replica's number), and adding the replica back would fail on it
        // ("already exists"), which is what readReplicas=0-then-back does.
        props.removalPolicy ?? RemovalPolicy.DESTROY
      );
      const replica = new rds.DatabaseInstanceReadReplica(this, `Replica${i}`, {
        sourceDatabaseInstance: props.source,
        instanceIdentifier,
        cloudwatchLogsExports: [...EXPORTED_LOGS],
        instanceType: props.instanceType,
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets,
        port: 3306,
        publiclyAccessible: false,
        storageType: rds.StorageType.GP3, // CDK's default is gp2; the primary is gp3
        parameterGroup: props.parameterGroup,
        // The function trusts one CA type (DB_CA_TYPE): the same as the primary's.
        caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
        // No storageEncrypted: a replica inherits its source's encryption, and CloudFormation
        // rejects StorageEncrypted next to SourceDBInstanceIdentifier.
        autoMinorVersionUpgrade: props.autoMinorVersionUpgrade,
        maxAllocatedStorage: props.maxAllocatedStorageGiB,
        deletionProtection: false,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
      });
      // CDK's read replica has no engine prop: without EngineVersion a replica keeps the version
      // it was created with, and bumping MYSQL_ENGINE_VERSION would upgrade the primary only.
      // With it, a bump is a ModifyDBInstance of the replica, which RDS accepts when the version
      // is "the same or higher than the version that the source DB instance ... is running"
      // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html).
      (replica.node.defaultChild as rds.CfnDBInstance).engineVersion = engineVersion;
      Validations.of(replica).acknowledge(
        {
          id: 'AwsSolutions-RDS2',
          reason:
            'Encrypted: a replica inherits the encryption of its source, which is encrypted (database.ts); RDS allows no unencrypted replica of an encrypted instance (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.html).',
        },
        {
          id: 'AwsSolutions-RDS3',
          reason:
            'A read replica is a single-AZ copy by design: when it fails, the reader falls back to the primary (lambda/lib/read-routing.ts), which is Multi-AZ in prod.',
        },
        {
          id: 'AwsSolutions-RDS11',
          reason:
            'The default port is kept: the replica is in isolated subnets and accepts 3306 only from the reader function.',
        },
        {
          id: 'AwsSolutions-RDS10',
          reason:
            'Deletion protection is off on replicas: they hold no data the primary (protected in prod) has not, and readReplicas=0 must be able to remove them.',
        }
      );
      logGroups.forEach((logGroup) => replica.node.addDependency(logGroup));
      this.instances.push(replica);
    }
  }

  /** The replicas' endpoints, comma-separated: the reader's DB_REPLICA_HOSTS. */
  get hostList(): string {
    return Fn.join(
      ',',
      this.instances.map((replica) => replica.dbInstanceEndpointAddress)
    );
  }
}

/**
 * A replica may run its source's version or a newer minor of the same major version: RDS refuses
 * an older one (ModifyDBInstance, above), and a replica of another major version would need a
 * parameter group of another family than the primary's, which the replicas share.
 */
function assertReplicaVersion(replica: string, source: string): void {
  const parse = (v: string) => (/^\d+\.\d+\.\d+$/.test(v) ? v.split('.').map(Number) : undefined);
  const [r, s] = [parse(replica), parse(source)];
  if (!r || !s) {
    throw new Error(
      `Replica engine version "${replica}" or source version "${source}" is not a full MySQL version like 8.4.10.`
    );
  }
  const sameMajor = r[0] === s[0] && r[1] === s[1];
  if (!sameMajor || r[2] < s[2]) {
    throw new Error(
      `Read replicas cannot run ${replica} next to a primary on ${source}: a replica runs its source's ` +
        `version or a newer minor of ${s[0]}.${s[1]}. For a major upgrade see docs/upgrades.md.`
    );
  }
}
