import * as fs from 'node:fs';
import { CfnElement, CfnResource, Validations } from 'aws-cdk-lib';
import * as path from 'node:path';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Database } from '../../lib/database';
import { Monitoring } from '../../lib/monitoring';
import { Network } from '../../lib/network';
import { ReadReplicas } from '../../lib/read-replicas';
import { CONFIGURATIONS, synthesizeConfiguration } from './configurations';
import { Invariant } from './invariants/invariant';

// Each invariant's check catches what it is about: one configuration (the proxy and two
// replicas: every check has something to look at), broken in several places at once, synthesized
// once to keep the run short.
const load = (file: string): Invariant =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require(path.join(__dirname, 'invariants', file)) as { invariant: Invariant }).invariant;

const configuration = CONFIGURATIONS.find(
  (c) => c.stage === 'sandbox' && c.context.proxy === 'true' && c.context.readReplicas === '2'
)!;

const GIB = 1024 ** 3;
let broken: ReturnType<typeof synthesizeConfiguration>;
beforeAll(() => {
  broken = synthesizeConfiguration(configuration, {
    amend: (stack) => {
      const writer = stack.functions.byName('writer').dataFunction;
      const reader = stack.functions.byName('reader').dataFunction;
      const monitoring = stack.node.findChild('Monitoring') as Monitoring;
      const replicas = stack.node.findChild('ReadReplicas') as ReadReplicas;
      // More readers than a replica holds.
      (reader.function.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = 200;
      // An alarm below the proxy pool's healthy peak.
      (monitoring.connectionsAlarm.node.defaultChild as cloudwatch.CfnAlarm).threshold = 10;
      // A replica left on an older minor.
      (replicas.instances[0].node.defaultChild as rds.CfnDBInstance).engineVersion = '8.4.9';
      // A rule of the writer's path that the writer is not ordered after (a raw resource, which
      // DataFunction's aspect does not recognise as a rule).
      new CfnResource(stack, 'LateRule', {
        type: 'AWS::EC2::SecurityGroupEgress',
        properties: {
          GroupId: writer.securityGroup.securityGroupId,
          IpProtocol: 'tcp',
          FromPort: 3306,
          ToPort: 3306,
          DestinationSecurityGroupId: reader.securityGroup.securityGroupId,
        },
      });
      // A proxy client-connections alarm at 80 % of the functions' concurrency (the old rule).
      (
        stack.node.findChild('Proxy').node.findChild('ClientConnectionsAlarm').node
          .defaultChild as cloudwatch.CfnAlarm
      ).threshold = 169;
      // The writer secret's rotation schedule ordered after nothing (so not after the proxy).
      stack.node
        .findAll()
        .filter(
          (c): c is secretsmanager.CfnRotationSchedule =>
            c instanceof secretsmanager.CfnRotationSchedule && c.node.path.includes('Writer')
        )
        .forEach((schedule) => schedule.addOverride('DependsOn', []));
      // The reader secret's schedule rotating on every update (the CloudFormation default).
      stack.node
        .findAll()
        .filter(
          (c): c is secretsmanager.CfnRotationSchedule =>
            c instanceof secretsmanager.CfnRotationSchedule && c.node.path.includes('Reader')
        )
        .forEach((schedule) => schedule.addPropertyDeletionOverride('RotateImmediatelyOnUpdate'));
      // A free-storage alarm at the autoscaling trigger (10 % of 20 GiB).
      (
        monitoring.node.findChild('FreeStorageSpaceAlarm').node.defaultChild as cloudwatch.CfnAlarm
      ).threshold = 2 * GIB;
      // The reader's secret left out of the proxy's auth list.
      const proxy = stack.node.findChild('Proxy').node.findChild('Proxy').node
        .defaultChild as rds.CfnDBProxy;
      proxy.auth = (proxy.auth as rds.CfnDBProxy.AuthFormatProperty[]).slice(0, 1);
      // The reader's Throttles alarm watching another function.
      (
        monitoring.node.findChild('ReaderThrottlesAlarm').node.defaultChild as cloudwatch.CfnAlarm
      ).dimensions = [{ name: 'FunctionName', value: 'another-function' }];
      // The dashboard under a new logical ID (a renamed construct).
      (monitoring.dashboard.node.defaultChild as CfnElement).overrideLogicalId('RenamedDashboard');
      // An endpoint policy without the statement for GetRandomPassword, which has no resource.
      const network = stack.node.findChild('Network') as Network;
      const endpoint = network.secretsManagerEndpoint.node.defaultChild as ec2.CfnVPCEndpoint;
      endpoint.addPropertyOverride('PolicyDocument.Statement', [
        (stack.resolve(endpoint.policyDocument) as { Statement: unknown[] }).Statement[0],
      ]);
      // The writer's role with the managed policy that writes to every log group.
      const writerRole = writer.function.role!;
      writerRole.addManagedPolicy(
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole')
      );
      Validations.of(writerRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'the break this test is about',
      });
      // An alarm on the writer's Lambda Errors, which any invoker's bad event raises.
      new cloudwatch.Alarm(monitoring, 'WriterLambdaErrors', {
        metric: writer.function.metricErrors(),
        threshold: 1,
        evaluationPeriods: 1,
      }).addAlarmAction({ bind: () => ({ alarmActionArn: monitoring.alarmTopic.topicArn }) });
      // A character set on the database instance, which it was created without.
      const database = stack.node.findChild('Database') as Database;
      (database.instance.node.defaultChild as rds.CfnDBInstance).characterSetName = 'latin1';
      // The flow log's role trusted by the service for anyone's flow logs.
      (
        network.vpc.node.findChild('all').node.findChild('IAMRole').node.defaultChild as iam.CfnRole
      ).addPropertyDeletionOverride('AssumeRolePolicyDocument.Statement.0.Condition');
    },
  });
});

test('every invariant file is exercised here', () => {
  const files = fs
    .readdirSync(path.join(__dirname, 'invariants'))
    .filter((f) => f.endsWith('.ts') && f !== 'invariant.ts');
  expect(files).toEqual(expect.arrayContaining(Object.keys(expected)));
});

const expected: Record<string, RegExp> = {
  'connection-budget-per-instance.ts':
    /ReadReplicasReplica1.*direct functions FunctionsReaderFunction\w+=200.*> max_connections 64/,
  'connection-alarms-above-healthy-peak.ts':
    /MonitoringDatabaseConnectionsAlarm\w+ fires at 10 connections, but a healthy peak on DatabaseInstance\w+ holds 56/,
  'replicas-mirror-primary.ts':
    /ReadReplicasReplica1\w+\.EngineVersion is "8\.4\.9", the primary's "8\.4\.10"/,
  'functions-depend-on-their-targets.ts':
    /FunctionsWriterFunction\w+ does not depend on LateRule \(a security-group rule of its network path\)/,
  'proxy-client-alarm-above-healthy-peak.ts':
    /ProxyClientConnectionsAlarm\w+ fires at 170 client connections, but the functions behind Proxy\w+ hold 270/,
  'rotation-waits-for-proxy.ts':
    /DatabaseWriterSecret\w*RotationSchedule\w+ rotates a secret Proxy\w+ serves but may run before Proxy\w+ \(AWS::RDS::DBProxy\) exists/,
  'rotation-schedules-do-not-rotate-on-update.ts':
    /DatabaseReaderSecret\w*RotationSchedule\w+ rotates its secret on every create or update/,
  'free-storage-alarm-beyond-autoscaling.ts':
    /MonitoringFreeStorageSpaceAlarm\w+ fires below 2 GiB, but autoscaling already acts at 2 GiB/,
  'proxy-auth-covers-its-clients.ts':
    /FunctionsReaderFunction\w+ connects through Proxy\w+ with .*DatabaseReaderSecretAttachment\w+.*not in the proxy's Auth/,
  'data-functions-are-watched.ts': /reader \(FunctionsReaderFunction\w+\) has no Throttles alarm/,
  'deployed-logical-ids-kept.ts': /MonitoringDashboard\w+ \(AWS::CloudWatch::Dashboard\) is gone/,
  'deployed-create-only-kept.ts':
    /DatabaseInstance\w+ \(AWS::RDS::DBInstance\): CharacterSetName is "latin1", deployed not set: CloudFormation would replace it/,
  'secrets-endpoint-admits-own-account-only.ts':
    /NetworkVpcSecretsManager\w+ refuses DatabaseRotationRotatorFunction\w+'s secretsmanager:GetRandomPassword \(no resource\)/,
  'function-log-rights-are-their-own.ts':
    /FunctionsWriterFunction\w+'s role FunctionsWriterRole\w+ carries AWSLambdaBasicExecutionRole/,
  'data-functions-alarm-on-own-failures.ts':
    /MonitoringWriterLambdaErrors\w+ fires on FunctionsWriterFunction\w+'s failed invocations including rejected events/,
  'service-roles-name-their-source.ts':
    /NetworkVpcallIAMRole\w+ trusts vpc-flow-logs\.amazonaws\.com without aws:SourceAccount = this account/,
};

test.each(Object.entries(expected))('%s catches its violation', (file, message) => {
  expect(load(file).check(broken)).toEqual(
    expect.arrayContaining([expect.stringMatching(message)])
  );
});
