import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { connectionBudget, proxyConnectionBudget, RESERVED_CONNECTIONS } from './connection-budget';
import { Database } from './database';
import { DataFunctions } from './data-functions';
import { DatabaseProxy } from './database-proxy';
import { Monitoring } from './monitoring';
import { Network } from './network';
import { ReadReplicas } from './read-replicas';
import { SchemaMigration } from './schema-migration';
import { StageConfig } from './stage-config';

export interface LambdaRdsStackProps extends StackProps {
  /** Stage settings (instance size, HA, retention, removal). */
  readonly config: StageConfig;
  /**
   * Address subscribed to the alarm topic.
   * @default - no subscription
   */
  readonly alarmEmail?: string;
}

/** network -> database -> schema migration -> functions -> monitoring, each wired into the next. */
export class LambdaRdsStack extends Stack {
  /** The stage settings this stack was built from, with the `-c` switches applied. */
  public readonly config: StageConfig;

  constructor(scope: Construct, id: string, props: LambdaRdsStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.config = config;
    const budget = connectionBudget({
      instanceMemoryMiB: config.instanceMemoryMiB,
      reserved: RESERVED_CONNECTIONS,
      writerShare: 1 / 3,
      readReplicas: config.readReplicas,
    });

    const network = new Network(this, 'Network', {
      secretsEndpointAzs: config.secretsEndpointAzs,
      flowLogRetention: config.logRetention,
      providerLogRetention: config.logRetention,
    });

    const database = new Database(this, 'Database', {
      vpc: network.vpc,
      vpcSubnets: network.isolatedSubnets,
      secretsManagerEndpoint: network.secretsManagerEndpoint,
      instanceType: new ec2.InstanceType(config.instanceType),
      maxConnections: budget.maxConnections,
      multiAz: config.multiAz,
      allocatedStorageGiB: config.allocatedStorageGiB,
      maxAllocatedStorageGiB: config.maxAllocatedStorageGiB,
      backupRetention: config.backupRetention,
      deletionProtection: config.deletionProtection,
      removalPolicy: config.databaseRemovalPolicy,
      logRetention: config.logRetention,
    });

    // Each function connects as its own least-privilege user, never as the admin.
    const writer = database.addUserSecret('Writer', 'writer');
    const reader = database.addUserSecret('Reader', 'reader');
    const writerSecret = writer.secret;
    const readerSecret = reader.secret;
    const migration = new SchemaMigration(this, 'SchemaMigration', {
      vpc: network.vpc,
      vpcSubnets: network.isolatedSubnets,
      database: database.instance,
      adminSecret: database.adminSecret,
      secretsManagerEndpoint: network.secretsManagerEndpoint,
      users: [
        { role: 'writer', secret: writerSecret },
        { role: 'reader', secret: readerSecret },
      ],
      logRetention: config.logRetention,
    });

    // With a proxy the functions' concurrency is bounded by the proxy's pool, not max_connections.
    const proxyBudget = config.proxy
      ? proxyConnectionBudget({
          direct: budget,
          writerShare: 1 / 3,
          readReplicas: config.readReplicas,
          clientsPerServerConnection: 4,
          // Lambda's default account quota is 1,000 concurrent executions and 100 of them must
          // stay unreserved; 300 leaves room for the account's other functions.
          concurrencyCap: 300,
        })
      : undefined;
    const proxy = proxyBudget
      ? new DatabaseProxy(this, 'Proxy', {
          vpc: network.vpc,
          vpcSubnets: network.isolatedSubnets,
          instance: database.instance,
          secrets: [writerSecret, readerSecret],
          maxConnectionsPercent: proxyBudget.maxConnectionsPercent,
          maxIdleConnectionsPercent: proxyBudget.maxIdleConnectionsPercent,
          clientConnectionsAlarmThreshold: proxyBudget.clientConnectionsAlarmThreshold,
          logRetention: config.logRetention,
        })
      : undefined;

    const replicas = new ReadReplicas(this, 'ReadReplicas', {
      source: database.instance,
      count: config.readReplicas,
      instanceType: new ec2.InstanceType(config.instanceType),
      parameterGroup: database.parameterGroup,
      sourceEngineVersion: database.engineVersion,
      engineVersion: config.replicaEngineVersion,
      autoMinorVersionUpgrade: database.autoMinorVersionUpgrade,
      maxAllocatedStorageGiB: database.maxAllocatedStorageGiB,
      logRetention: database.logRetention,
      vpc: network.vpc,
      vpcSubnets: network.isolatedSubnets,
    });

    // Without a proxy the functions' concurrency is the direct budget's; with one, the proxy's
    // (its reader share capped by what a replica holds, since the reader reaches replicas directly).
    const functionsBudget = proxyBudget ?? budget;
    const functions = new DataFunctions(this, 'Functions', {
      vpc: network.vpc,
      vpcSubnets: network.isolatedSubnets,
      database: database.instance,
      secretsManagerEndpoint: network.secretsManagerEndpoint,
      writerSecret,
      readerSecret,
      writerConcurrency: functionsBudget.writerConcurrency,
      readerConcurrency: functionsBudget.readerConcurrency,
      // The L2 proxy construct holds the AWS::RDS::DBProxy and its target group.
      proxy: proxy && {
        endpoint: proxy.proxy.endpoint,
        connections: proxy.proxy,
        ready: proxy.proxy,
      },
      logRetention: config.logRetention,
    });

    // The reader may read any replica, and only the reader, directly even behind a proxy (an RDS
    // Proxy fronts one instance). A minVersion read whose replica is behind or down falls back to
    // the primary, so every reader connection fits there too (directly, or in the proxy's
    // budget); each replica (same class, same parameter group, same max_connections) keeps its
    // operators' reserve free of them (connectionBudget()).
    for (const replica of replicas.instances) {
      replica.connections.allowFrom(
        functions.reader.securityGroup,
        ec2.Port.tcp(3306),
        'from the Reader function'
      );
    }
    if (replicas.instances.length > 0) {
      functions.reader.function.addEnvironment('DB_REPLICA_HOSTS', replicas.hostList);
    }

    // The users exist only once the migration has run: nothing may log in as them before. The
    // admin's first rotation waits too, so it does not change the password the migration is
    // logging in with (the migration would recover through AWSPENDING, but need not).
    for (const dependent of [
      functions.writer.function,
      functions.reader.function,
      writer.rotationSchedule,
      reader.rotationSchedule,
      database.adminRotationSchedule,
      ...(proxy ? [proxy.proxy] : []),
    ]) {
      dependent.node.addDependency(migration.resource);
    }

    // Where there is a proxy, the rotations of the secrets it serves wait for it and its target
    // group: a rotation while the proxy is being created could finish before the proxy first
    // reads the secret, or during it (test/lib/invariants/rotation-waits-for-proxy.ts).
    if (proxy) {
      for (const schedule of [writer.rotationSchedule, reader.rotationSchedule]) {
        schedule.node.addDependency(proxy.proxy);
      }
    }

    const monitoring = new Monitoring(this, 'Monitoring', {
      instance: database.instance,
      replicas: replicas.instances,
      maxConnections: budget.maxConnections,
      healthyPeakConnections: functionsBudget.primaryPeakConnections,
      connectionAlarmThreshold: functionsBudget.alarmThreshold,
      proxyPoolConnections: proxyBudget?.serverConnections,
      replicaConnectionAlarmThreshold: functionsBudget.replicaAlarmThreshold,
      instanceMemoryMiB: config.instanceMemoryMiB,
      allocatedStorageGiB: database.allocatedStorageGiB,
      maxAllocatedStorageGiB: database.maxAllocatedStorageGiB,
      functions: [
        { label: 'writer', function: functions.writer.function },
        { label: 'reader', function: functions.reader.function },
      ],
      alarmEmail: props.alarmEmail,
      additionalAlarms: proxy?.alarms,
      additionalWidgets: proxy?.widgets,
    });

    if (proxy) {
      new CfnOutput(this, 'ProxyEndpoint', { value: proxy.proxy.endpoint });
    }

    new CfnOutput(this, 'WriterFunctionName', { value: functions.writer.function.functionName });
    new CfnOutput(this, 'ReaderFunctionName', { value: functions.reader.function.functionName });
    new CfnOutput(this, 'DatabaseSecretArn', {
      value: database.adminSecret.secretArn,
      description: 'Admin credentials (for migrations and operators, not for the functions)',
    });
    new CfnOutput(this, 'MigrationFunctionName', {
      value: migration.handler.function.functionName,
      description:
        'The schema migration, to run by hand when a user must be restored (docs/rotation.md#running-the-migration-by-hand)',
    });
    new CfnOutput(this, 'WriterSecretArn', { value: writerSecret.secretArn });
    new CfnOutput(this, 'ReaderSecretArn', { value: readerSecret.secretArn });
    new CfnOutput(this, 'DatabaseEndpoint', { value: database.instance.dbInstanceEndpointAddress });
    new CfnOutput(this, 'AlarmTopicArn', { value: monitoring.alarmTopic.topicArn });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${monitoring.dashboard.dashboardName}`,
    });
  }
}
