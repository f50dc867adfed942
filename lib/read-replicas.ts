import { Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';

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
  /** @default RemovalPolicy.DESTROY: a replica holds no data the primary has not */
  readonly removalPolicy?: RemovalPolicy;
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
    for (let i = 1; i <= props.count; i++) {
      const replica = new rds.DatabaseInstanceReadReplica(this, `Replica${i}`, {
        sourceDatabaseInstance: props.source,
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
        autoMinorVersionUpgrade: false, // follows the primary's pinned minor (database.ts)
        deletionProtection: false,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
      });
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
