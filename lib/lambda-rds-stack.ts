import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { SchemaModule } from '../lambda/lib/schema-module';
import { SCHEMA_MODULES } from '../lambda/schema-modules';
import { connectionBudget, proxyConnectionBudget, reservedConnections } from './connection-budget';
import { Database } from './database';
import {
  checkDeclarations,
  constructIdOf,
  DataFunctionDeclaration,
  usernameOf,
} from './data-function-declaration';
import { DataFunctions } from './data-functions';
import { DATA_FUNCTIONS } from './declared-functions';
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
  /**
   * The data functions: each gets its user, secret, rotation, grants, budget share, alarms,
   * widgets and outputs from its declaration.
   * @default DATA_FUNCTIONS (lib/declared-functions.ts)
   */
  readonly functions?: readonly DataFunctionDeclaration[];
  /**
   * The schema modules the migration applies (their statements make its schema version).
   * @default SCHEMA_MODULES (lambda/schema-modules.ts)
   */
  readonly schemaModules?: readonly SchemaModule[];
}

/** network -> database -> schema migration -> functions -> monitoring, each wired into the next. */
export class LambdaRdsStack extends Stack {
  /** The stage settings this stack was built from, with the `-c` switches applied. */
  public readonly config: StageConfig;
  /** The data functions, as declared and deployed. */
  public readonly functions: DataFunctions;

  constructor(scope: Construct, id: string, props: LambdaRdsStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.config = config;
    const declared = checkDeclarations(props.functions ?? DATA_FUNCTIONS);
    const budget = connectionBudget({
      instanceMemoryMiB: config.instanceMemoryMiB,
      reserved: reservedConnections(declared.length),
      functions: declared,
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
    const users = declared.map((declaration) => ({
      declaration,
      ...database.addUserSecret(constructIdOf(declaration.name), usernameOf(declaration.name)),
    }));
    const migration = new SchemaMigration(this, 'SchemaMigration', {
      vpc: network.vpc,
      vpcSubnets: network.isolatedSubnets,
      database: database.instance,
      adminSecret: database.adminSecret,
      secretsManagerEndpoint: network.secretsManagerEndpoint,
      users: users.map(({ declaration, secret }) => ({
        role: declaration.name,
        secret,
        grants: declaration.grants,
      })),
      schemaModules: props.schemaModules ?? SCHEMA_MODULES,
      logRetention: config.logRetention,
    });

    // With a proxy the functions' concurrency is bounded by the proxy's pool, not max_connections.
    const proxyBudget = config.proxy
      ? proxyConnectionBudget({
          direct: budget,
          functions: declared,
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
          // Every function connects through it as its own user.
          secrets: users.map(({ secret }) => secret),
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
      functions: users,
      concurrency: functionsBudget.concurrency,
      // The L2 proxy construct holds the AWS::RDS::DBProxy and its target group.
      proxy: proxy && {
        endpoint: proxy.proxy.endpoint,
        connections: proxy.proxy,
        ready: proxy.proxy,
      },
      logRetention: config.logRetention,
    });

    this.functions = functions;

    // A function declared to read replicas (the reader) may read any replica directly, even
    // behind a proxy (an RDS Proxy fronts one instance). A minVersion read whose replica is behind
    // or down falls back to the primary, so every such connection fits there too (directly, or in
    // the proxy's budget); each replica (same class, same parameter group, same max_connections)
    // keeps its operators' reserve free of them (connectionBudget()).
    for (const { declaration, dataFunction } of functions.functions) {
      if (!declaration.readsReplicas || replicas.instances.length === 0) continue;
      for (const replica of replicas.instances) {
        replica.connections.allowFrom(
          dataFunction.securityGroup,
          ec2.Port.tcp(3306),
          `from the ${constructIdOf(declaration.name)} function`
        );
      }
      dataFunction.function.addEnvironment('DB_REPLICA_HOSTS', replicas.hostList);
    }

    // The users exist only once the migration has run: nothing may log in as them before. The
    // admin's first rotation waits too, so it does not change the password the migration is
    // logging in with (the migration would recover through AWSPENDING, but need not).
    for (const dependent of [
      ...functions.functions.map(({ dataFunction }) => dataFunction.function),
      ...users.map(({ rotationSchedule }) => rotationSchedule),
      database.adminRotationSchedule,
      ...(proxy ? [proxy.proxy] : []),
    ]) {
      dependent.node.addDependency(migration.resource);
    }

    // Where there is a proxy, the rotations of the secrets it serves wait for it and its target
    // group: a rotation while the proxy is being created could finish before the proxy first
    // reads the secret, or during it (test/lib/invariants/rotation-waits-for-proxy.ts).
    if (proxy) {
      for (const { rotationSchedule: schedule } of users) {
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
      functions: functions.functions.map(({ declaration, dataFunction }) => ({
        label: declaration.name,
        function: dataFunction.function,
      })),
      alarmEmail: props.alarmEmail,
      additionalAlarms: proxy?.alarms,
      additionalWidgets: proxy?.widgets,
    });

    if (proxy) {
      new CfnOutput(this, 'ProxyEndpoint', { value: proxy.proxy.endpoint });
    }

    for (const { declaration, dataFunction, secret } of functions.functions) {
      const id = constructIdOf(declaration.name);
      new CfnOutput(this, `${id}FunctionName`, { value: dataFunction.function.functionName });
      new CfnOutput(this, `${id}SecretArn`, { value: secret.secretArn });
    }
    new CfnOutput(this, 'DatabaseSecretArn', {
      value: database.adminSecret.secretArn,
      description: 'Admin credentials (for migrations and operators, not for the functions)',
    });
    new CfnOutput(this, 'MigrationFunctionName', {
      value: migration.handler.function.functionName,
      description:
        'The schema migration, to run by hand when a user must be restored (docs/rotation.md#running-the-migration-by-hand)',
    });
    new CfnOutput(this, 'DatabaseEndpoint', { value: database.instance.dbInstanceEndpointAddress });
    new CfnOutput(this, 'AlarmTopicArn', { value: monitoring.alarmTopic.topicArn });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${monitoring.dashboard.dashboardName}`,
    });
  }
}
