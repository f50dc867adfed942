import { Match, Template } from 'aws-cdk-lib/assertions';
import { connectionBudget, RDS_MYSQL_BYTES_PER_CONNECTION } from '../../lib/connection-budget';
import { MYSQL_ENGINE_VERSION, MYSQL_MAJOR_VERSION } from '../../lib/database';
import { stageConfig } from '../../lib/stage-config';
import { CfnResource, resourcesOf, synthesize } from './synthesize';

// Defects that only a deploy to a real account shows (issue 8, items 1-7), each asserted for
// both stages.
const STAGES = ['sandbox', 'prod'] as const;
const templates: Record<string, Template> = {};
beforeAll(() => {
  // GIVEN each stage, synthesized once for every requirement below.
  for (const stage of STAGES) templates[stage] = synthesize(stage).template;
});

const MIB = 1024 ** 2;
const getAttId = (value: { 'Fn::GetAtt'?: [string, string] }) => value['Fn::GetAtt']?.[0];
const ingressInto = (template: Template, groupId: string) =>
  resourcesOf(template, 'AWS::EC2::SecurityGroupIngress').filter(
    ([, rule]) => getAttId(rule.Properties.GroupId) === groupId
  );
const rotationApplications = (template: Template) =>
  resourcesOf(template, 'AWS::Serverless::Application');
/** The writer and the reader (by their descriptions). */
const dataFunctions = (template: Template) =>
  resourcesOf(template, 'AWS::Lambda::Function').filter(([, fn]) =>
    /^(Upserts|Reads) a user/.test(String(fn.Properties.Description ?? ''))
  );
const topicPolicyStatements = (template: Template) => {
  const policies = resourcesOf(template, 'AWS::SNS::TopicPolicy');
  expect(policies).toHaveLength(1);
  return policies[0][1].Properties.PolicyDocument.Statement as CfnResource['Properties'][];
};
const servicePublish = (template: Template, service: string) =>
  topicPolicyStatements(template).filter(
    (s) => s.Effect === 'Allow' && s.Principal?.Service === service
  );

describe.each(STAGES)('%s stage', (stage) => {
  const template = () => templates[stage];
  const config = stageConfig(stage);
  const budget = connectionBudget({
    instanceMemoryMiB: config.instanceMemoryMiB,
    reservedForOperators: 10,
    writerShare: 1 / 3,
    alarmAtShareOfMax: 0.8,
  });

  test('1. every rotation function reaches the Secrets Manager endpoint on 443 and the database port', () => {
    const [, endpoint] = resourcesOf(template(), 'AWS::EC2::VPCEndpoint')[0];
    const endpointGroup = getAttId(endpoint.Properties.SecurityGroupIds[0]);
    const [dbId, db] = resourcesOf(template(), 'AWS::RDS::DBInstance')[0];
    const dbGroup = getAttId(db.Properties.VPCSecurityGroups[0]);
    const applications = rotationApplications(template());
    expect(applications).toHaveLength(3); // admin, writer, reader
    for (const [, application] of applications) {
      const rotationGroup = getAttId(application.Properties.Parameters.vpcSecurityGroupIds);
      expect(rotationGroup).toBeDefined();
      const toEndpoint = ingressInto(template(), endpointGroup!).filter(
        ([, rule]) => getAttId(rule.Properties.SourceSecurityGroupId) === rotationGroup
      );
      expect(
        toEndpoint.map(([, rule]) => [rule.Properties.FromPort, rule.Properties.ToPort])
      ).toEqual([[443, 443]]);
      const toDatabase = ingressInto(template(), dbGroup!).filter(
        ([, rule]) => getAttId(rule.Properties.SourceSecurityGroupId) === rotationGroup
      );
      expect(toDatabase.map(([, rule]) => rule.Properties.FromPort)).toEqual([
        { 'Fn::GetAtt': [dbId, 'Endpoint.Port'] },
      ]);
    }
  });

  test('1. rotation functions call the standard Secrets Manager hostname, which private DNS maps to the endpoint', () => {
    const [endpointId, endpoint] = resourcesOf(template(), 'AWS::EC2::VPCEndpoint')[0];
    expect(endpoint.Properties.PrivateDnsEnabled).toBe(true);
    for (const [, application] of rotationApplications(template())) {
      expect(application.Properties.Parameters.endpoint).toEqual({
        'Fn::Join': [
          '',
          ['https://secretsmanager.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }],
        ],
      });
      expect(JSON.stringify(application.Properties.Parameters)).not.toContain(endpointId);
    }
  });

  test("2. the alarm topic's policy lets CloudWatch publish for this stack's alarms only", () => {
    const alarmArns = resourcesOf(template(), 'AWS::CloudWatch::Alarm').map(([id]) => ({
      'Fn::GetAtt': [id, 'Arn'],
    }));
    const statements = servicePublish(template(), 'cloudwatch.amazonaws.com');
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({
      Action: 'sns:Publish',
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnEquals: { 'aws:SourceArn': expect.arrayContaining(alarmArns) },
      },
    });
    expect(statements[0].Condition.ArnEquals['aws:SourceArn']).toHaveLength(alarmArns.length);
    // ... and still refuses publishing without TLS.
    expect(topicPolicyStatements(template())).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      ])
    );
  });

  test('2. the alarm topic lets EventBridge publish for the rotation-failure rule only, with no unconditioned grant', () => {
    const [ruleId] = resourcesOf(template(), 'AWS::Events::Rule')[0];
    const statements = servicePublish(template(), 'events.amazonaws.com');
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({
      Action: 'sns:Publish',
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnEquals: { 'aws:SourceArn': [{ 'Fn::GetAtt': [ruleId, 'Arn'] }] },
      },
    });
    for (const statement of topicPolicyStatements(template())) {
      if (statement.Effect === 'Allow') expect(statement.Condition).toBeDefined();
    }
  });

  test('3. the database and its log groups are named per stack incarnation, so a re-create never meets retained log groups', () => {
    const [, db] = resourcesOf(template(), 'AWS::RDS::DBInstance')[0];
    const identifier = db.Properties.DBInstanceIdentifier;
    expect(JSON.stringify(identifier)).toContain('"Ref":"AWS::StackId"');
    for (const log of ['error', 'slowquery']) {
      template().hasResource('AWS::Logs::LogGroup', {
        Properties: Match.objectLike({
          LogGroupName: { 'Fn::Join': ['', ['/aws/rds/instance/', identifier, `/${log}`]] },
        }),
        // Prod keeps its logs after a delete, but not after a rolled-back first create.
        DeletionPolicy: stage === 'prod' ? 'RetainExceptOnCreate' : 'Delete',
      });
    }
    template().resourceCountIs('Custom::LogRetention', 0);
  });

  test('4. the engine version is pinned to a minor, and RDS does not upgrade it behind the template', () => {
    template().hasResourceProperties('AWS::RDS::DBInstance', {
      EngineVersion: MYSQL_ENGINE_VERSION,
      AutoMinorVersionUpgrade: false,
    });
    template().hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: `mysql${MYSQL_MAJOR_VERSION}`,
    });
    expect(MYSQL_ENGINE_VERSION.startsWith(`${MYSQL_MAJOR_VERSION}.`)).toBe(true);
  });

  test('5. max_connections stays below what RDS derives from DBInstanceClassMemory, and the budget follows it', () => {
    const [, group] = resourcesOf(template(), 'AWS::RDS::DBParameterGroup')[0];
    const maxConnections = Number(group.Properties.Parameters.max_connections);
    expect(maxConnections).toBe(budget.maxConnections);
    // A 1 GiB class really gets about 66 (77 % of nominal memory): never promise more.
    const observedFloor = Math.floor(
      (config.instanceMemoryMiB * MIB * 0.77) / RDS_MYSQL_BYTES_PER_CONNECTION
    );
    expect(maxConnections).toBeLessThanOrEqual(observedFloor);
    const reserved = dataFunctions(template()).map(
      ([, fn]) => fn.Properties.ReservedConcurrentExecutions
    );
    expect(reserved.reduce((a, b) => a + b, 0)).toBe(maxConnections - 10);
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DatabaseConnections',
      Threshold: budget.alarmThreshold,
    });
  });

  test('5. the FreeableMemory alarm fires well below what the InnoDB buffer pool leaves free (1/16 of memory)', () => {
    const [, alarm] = resourcesOf(template(), 'AWS::CloudWatch::Alarm').find(
      ([, a]) => a.Properties.MetricName === 'FreeableMemory'
    )!;
    expect(alarm.Properties.Threshold).toBe((config.instanceMemoryMiB * MIB) / 16);
    // The buffer pool takes 3/4: a healthy instance sits below a quarter of its memory.
    expect(alarm.Properties.Threshold).toBeLessThan((config.instanceMemoryMiB * MIB) / 4);
    expect(alarm.Properties.ComparisonOperator).toBe('LessThanThreshold');
  });

  test('6. failed Secrets Manager rotations are sent to the alarm topic', () => {
    const [topicId] = resourcesOf(template(), 'AWS::SNS::Topic')[0];
    template().hasResourceProperties('AWS::Events::Rule', {
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.secretsmanager'],
        'detail-type': Match.arrayWith(['AWS Service Event via CloudTrail']),
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: ['RotationFailed'],
        },
      },
      Targets: [Match.objectLike({ Arn: { Ref: topicId } })],
    });
  });

  test('6. failing writer and reader invocations raise alarms that notify the topic and show on the dashboard', () => {
    const [topicId] = resourcesOf(template(), 'AWS::SNS::Topic')[0];
    const [, dashboard] = resourcesOf(template(), 'AWS::CloudWatch::Dashboard')[0];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    const functions = dataFunctions(template());
    expect(functions).toHaveLength(2);
    for (const [fnId] of functions) {
      const alarms = resourcesOf(template(), 'AWS::CloudWatch::Alarm').filter(
        ([, a]) =>
          a.Properties.MetricName === 'Errors' &&
          a.Properties.Namespace === 'AWS/Lambda' &&
          a.Properties.Dimensions?.[0]?.Value?.Ref === fnId
      );
      expect(alarms).toHaveLength(1);
      const [alarmId, alarm] = alarms[0];
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.Threshold).toBe(1);
      expect(body).toContain(`"Fn::GetAtt":["${alarmId}","Arn"]`);
    }
  });

  test('7. the dashboard name is unique per region, and the DashboardUrl output names the dashboard', () => {
    const [dashboardId, dashboard] = resourcesOf(template(), 'AWS::CloudWatch::Dashboard')[0];
    expect(JSON.stringify(dashboard.Properties.DashboardName)).toContain('"Ref":"AWS::Region"');
    const url = JSON.stringify(template().findOutputs('DashboardUrl'));
    expect(url).toContain('#dashboards:name=');
    expect(url).toContain(`{"Ref":"${dashboardId}"}`);
  });
});
