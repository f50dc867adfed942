import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  connectionBudget,
  RDS_MYSQL_BYTES_PER_CONNECTION,
  reservedConnections,
} from '../../lib/connection-budget';
import { constructIdOf, usernameOf } from '../../lib/data-function-declaration';
import { DATA_FUNCTIONS } from '../../lib/declared-functions';
import { dataFunctionsOf, functionOf } from './declared';
import { MYSQL_ENGINE_VERSION, MYSQL_MAJOR_VERSION } from '../../lib/database';
import { LambdaRdsStack } from '../../lib/lambda-rds-stack';
import { STAGES, stageConfig } from '../../lib/stage-config';
import { factsFromTemplate } from '../../scripts/preflight/stage-facts';
import { CfnResource, resourcesOf, synthesize } from './synthesize';
import { MIN_FUNCTION_TIMEOUT_MS, SERVER_BOUNDS } from '../../lambda/lib/server-bounds';

// GIVEN the sandbox and prod stacks, synthesized once for every requirement below.
let sandbox: Template;
let prod: Template;
let sandboxStack: LambdaRdsStack;
let prodStack: LambdaRdsStack;
beforeAll(() => {
  ({ template: sandbox, stack: sandboxStack } = synthesize('sandbox', {
    context: { alarmEmail: 'ops@example.com' },
  }));
  ({ template: prod, stack: prodStack } = synthesize('prod'));
});

const budget = connectionBudget({
  instanceMemoryMiB: 1024,
  reserved: reservedConnections(DATA_FUNCTIONS.length),
  functions: DATA_FUNCTIONS,
});

function functionByDescription(template: Template, start: string) {
  const found = resourcesOf(template, 'AWS::Lambda::Function').filter(([, r]) =>
    String(r.Properties.Description ?? '').startsWith(start)
  );
  expect(found).toHaveLength(1);
  return found[0];
}

describe('network', () => {
  test('has isolated subnets only: no NAT gateway, no internet gateway', () => {
    sandbox.resourceCountIs('AWS::EC2::NatGateway', 0);
    sandbox.resourceCountIs('AWS::EC2::InternetGateway', 0);
    sandbox.resourceCountIs('AWS::EC2::Subnet', 2);
    for (const [, subnet] of resourcesOf(sandbox, 'AWS::EC2::Subnet')) {
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    }
  });

  test('reaches Secrets Manager through a private interface endpoint (one AZ in sandbox, two in prod)', () => {
    const endpoint = {
      ServiceName: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('secretsmanager')])],
      }),
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
    };
    sandbox.hasResourceProperties('AWS::EC2::VPCEndpoint', endpoint);
    expect(resourcesOf(sandbox, 'AWS::EC2::VPCEndpoint')[0][1].Properties.SubnetIds).toHaveLength(
      1
    );
    expect(resourcesOf(prod, 'AWS::EC2::VPCEndpoint')[0][1].Properties.SubnetIds).toHaveLength(2);
  });

  test('logs VPC flows', () => {
    sandbox.hasResourceProperties('AWS::EC2::FlowLog', {
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
  });

  test('opens no security group to an address range: every ingress names a security group', () => {
    for (const template of [sandbox, prod]) {
      for (const [, rule] of resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')) {
        expect(rule.Properties.CidrIp).toBeUndefined();
        expect(rule.Properties.SourceSecurityGroupId).toBeDefined();
      }
      for (const [, group] of resourcesOf(template, 'AWS::EC2::SecurityGroup')) {
        for (const rule of group.Properties.SecurityGroupIngress ?? [])
          expect(rule.CidrIp).toBeUndefined();
      }
    }
  });

  test('database accepts 3306 only from the functions, the migration and the rotation function', () => {
    const [dbId, db] = resourcesOf(sandbox, 'AWS::RDS::DBInstance')[0];
    const dbGroup = db.Properties.VPCSecurityGroups[0]['Fn::GetAtt'][0];
    const rules = resourcesOf(sandbox, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) => r.Properties.GroupId['Fn::GetAtt']?.[0] === dbGroup
    );
    expect(db.Properties.Port).toBe('3306');
    const dbPort = { 'Fn::GetAtt': [dbId, 'Endpoint.Port'] };
    for (const [, rule] of rules) {
      expect(rule.Properties).toMatchObject({
        IpProtocol: 'tcp',
        FromPort: dbPort,
        ToPort: dbPort,
      });
    }
    const sources = rules
      .map(([, r]) => r.Properties.SourceSecurityGroupId['Fn::GetAtt'][0])
      .sort();
    expect(sources).toEqual(
      [
        'DatabaseRotationRotatorSecurityGroup',
        ...DATA_FUNCTIONS.map(({ name }) => `Functions${constructIdOf(name)}SecurityGroup`),
        'SchemaMigrationMigrationFunctionSecurityGroup',
      ]
        .sort()
        .map((prefix) => expect.stringMatching(new RegExp(`^${prefix}`)))
    );
  });

  test('functions may send traffic only to the database and the Secrets Manager endpoint', () => {
    for (const [, fn] of dataFunctionsOf(sandbox)) {
      const fnGroup = fn.Properties.VpcConfig.SecurityGroupIds[0]['Fn::GetAtt'][0];
      const [, group] = resourcesOf(sandbox, 'AWS::EC2::SecurityGroup').find(
        ([id]) => id === fnGroup
      )!;
      expect(JSON.stringify(group.Properties.SecurityGroupEgress ?? [])).not.toContain('0.0.0.0/0');
      const egress = resourcesOf(sandbox, 'AWS::EC2::SecurityGroupEgress').filter(
        ([, r]) => r.Properties.GroupId['Fn::GetAtt']?.[0] === fnGroup
      );
      const [dbId] = resourcesOf(sandbox, 'AWS::RDS::DBInstance')[0];
      expect(egress.map(([, r]) => r.Properties.FromPort)).toEqual(
        expect.arrayContaining([443, { 'Fn::GetAtt': [dbId, 'Endpoint.Port'] }])
      );
      expect(egress).toHaveLength(2);
    }
  });
});

describe('database', () => {
  test('runs MySQL 8.4 on a private, encrypted gp3 db.t4g.micro in sandbox', () => {
    sandbox.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'mysql',
      EngineVersion: Match.stringLikeRegexp('^8\\.4\\.'),
      DBInstanceClass: 'db.t4g.micro',
      StorageType: 'gp3',
      StorageEncrypted: true,
      PubliclyAccessible: false,
      MultiAZ: false,
      DeletionProtection: false,
      BackupRetentionPeriod: 1,
      EnableCloudwatchLogsExports: ['error', 'slowquery'],
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
    });
  });

  test('sandbox is destroyable; prod is multi-AZ, protected and snapshotted on removal', () => {
    sandbox.hasResource('AWS::RDS::DBInstance', {
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
    prod.hasResource('AWS::RDS::DBInstance', {
      DeletionPolicy: 'Snapshot',
      Properties: Match.objectLike({
        MultiAZ: true,
        DeletionProtection: true,
        BackupRetentionPeriod: 14,
        DBInstanceClass: 'db.t4g.medium',
      }),
    });
  });

  test('parameter group: idle connections closed within minutes, durable commits, TLS required', () => {
    sandbox.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: 'mysql8.4',
      Parameters: Match.objectLike({
        wait_timeout: '300',
        interactive_timeout: '300',
        innodb_flush_log_at_trx_commit: '1',
        sync_binlog: '1',
        require_secure_transport: '1',
        max_connections: String(budget.maxConnections),
      }),
    });
    const params = resourcesOf(sandbox, 'AWS::RDS::DBParameterGroup')[0][1].Properties.Parameters;
    expect(Number(params.wait_timeout)).toBeLessThanOrEqual(900);
  });

  test('parameter group: every wait of a function statement ends on the server, sql_mode pinned (server-bounds.ts)', () => {
    sandbox.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({
        lock_wait_timeout: String(SERVER_BOUNDS.lockWaitTimeoutSeconds),
        innodb_lock_wait_timeout: String(SERVER_BOUNDS.innodbLockWaitTimeoutSeconds),
        max_execution_time: String(SERVER_BOUNDS.maxExecutionTimeMs),
        sql_mode: SERVER_BOUNDS.sqlMode,
      }),
    });
    expect(SERVER_BOUNDS.sqlMode).not.toMatch(/NO_BACKSLASH_ESCAPES/);
  });

  test('functions with a database live longer than a slow connect plus a full statement timeout', () => {
    const dataFunctions = resourcesOf(sandbox, 'AWS::Lambda::Function').filter(
      ([, fn]) => fn.Properties.Environment?.Variables?.DB_SECRET_ARN
    );
    expect(dataFunctions.length).toBeGreaterThanOrEqual(2);
    for (const [, fn] of dataFunctions) {
      expect(fn.Properties.Timeout * 1000).toBeGreaterThanOrEqual(MIN_FUNCTION_TIMEOUT_MS);
    }
  });

  test('exported logs have a retention (no log-retention custom resource)', () => {
    for (const log of ['error', 'slowquery']) {
      const named = resourcesOf(sandbox, 'AWS::Logs::LogGroup').filter(([, group]) =>
        JSON.stringify(group.Properties.LogGroupName ?? '').includes(`"/${log}"`)
      );
      expect(named).toHaveLength(1);
      expect(named[0][1].Properties.RetentionInDays).toBe(7);
    }
    sandbox.resourceCountIs('Custom::LogRetention', 0);
  });

  test('admin credentials are a generated secret that rotates every 30 days', () => {
    sandbox.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({
        SecretStringTemplate: '{"username":"admin","dbname":"app"}',
        GenerateStringKey: 'password',
      }),
    });
    sandbox.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });
});

describe('functions', () => {
  test('run Node.js 24 on arm64 with JSON logs, no run-time source maps and a timeout above the connect timeout', () => {
    for (const [, fn] of dataFunctionsOf(sandbox)) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Timeout: 10,
        MemorySize: 512, // the memory-size table in the README
        LoggingConfig: expect.objectContaining({ LogFormat: 'JSON' }),
        VpcConfig: expect.objectContaining({
          SubnetIds: resourcesOf(sandbox, 'AWS::EC2::Subnet').map(([id]) => ({ Ref: id })),
        }),
      });
      // The bundle keeps names and lines; parsing its map would cost every cold start.
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBeUndefined();
    }
  });

  test('reserved concurrency comes from the connection budget and never exceeds it', () => {
    let total = 0;
    for (const { name } of DATA_FUNCTIONS) {
      const [, fn] = functionOf(sandbox, name);
      expect(fn.Properties.ReservedConcurrentExecutions).toBe(budget.concurrency[name]);
      total += fn.Properties.ReservedConcurrentExecutions;
    }
    expect(total).toBeLessThan(budget.maxConnections);
  });

  test("environment holds the secret's ARN and nothing secret", () => {
    for (const { name, idempotentWrites } of DATA_FUNCTIONS) {
      const vars = functionOf(sandbox, name)[1].Properties.Environment.Variables;
      expect(Object.keys(vars).sort()).toEqual([
        'DB_CA_TYPE',
        'DB_SECRET_ARN',
        'DB_WRITES_IDEMPOTENT',
      ]);
      // The declaration says whether "retrying is safe" may be said (lambda/lib/write-retry.ts).
      expect(vars.DB_WRITES_IDEMPOTENT).toBe(String(idempotentWrites));
      expect(vars.DB_SECRET_ARN).toEqual({ Ref: expect.stringMatching(/Secret/) });
      expect(JSON.stringify(vars)).not.toMatch(/password|SecretString/i);
    }
  });

  test('functions trust the CA type the database instance is signed by', () => {
    // GIVEN the instance's CA  WHEN the functions are bound to it  THEN they name the same CA
    const [[, instance]] = resourcesOf(sandbox, 'AWS::RDS::DBInstance');
    expect(instance.Properties.CACertificateIdentifier).toBe('rds-ca-rsa2048-g1');
    for (const [, fn] of dataFunctionsOf(sandbox)) {
      expect(fn.Properties.Environment.Variables.DB_CA_TYPE).toBe(
        instance.Properties.CACertificateIdentifier
      );
    }
  });

  test('IAM lets each function read only its named secret', () => {
    for (const [, fn] of dataFunctionsOf(sandbox)) {
      const role = fn.Properties.Role['Fn::GetAtt'][0];
      const policies = resourcesOf(sandbox, 'AWS::IAM::Policy').filter(([, p]) =>
        p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role)
      );
      const statements = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
      const secretStatements = statements.filter((s) =>
        [s.Action].flat().some((a: string) => a.startsWith('secretsmanager:'))
      );
      expect(secretStatements.length).toBeGreaterThan(0);
      for (const s of secretStatements) {
        expect(s.Effect).toBe('Allow');
        expect(s.Resource).toEqual({ Ref: fn.Properties.Environment.Variables.DB_SECRET_ARN.Ref });
      }
      expect(JSON.stringify(statements)).not.toMatch(/"Resource":"\*"/);
    }
  });
});

describe('monitoring', () => {
  test('DatabaseConnections alarm fires one above the healthy peak and notifies the topic', () => {
    const [topicId] = resourcesOf(sandbox, 'AWS::SNS::Topic')[0];
    sandbox.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DatabaseConnections',
      Namespace: 'AWS/RDS',
      Statistic: 'Maximum',
      Threshold: budget.alarmThreshold,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topicId }],
    });
  });

  test('the cheap RDS alarms AWS recommends: CPU, freeable memory, free storage', () => {
    sandbox.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CPUUtilization',
      Threshold: 90,
    });
    sandbox.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'FreeableMemory',
      Threshold: 64 * 1024 ** 2,
    });
    sandbox.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'FreeStorageSpace',
      // Half of RDS's autoscaling trigger (10 % of 20 GiB): see the free-storage invariant.
      Threshold: 1 * 1024 ** 3,
    });
  });

  test('alarm topic requires TLS and has the e-mail subscription from context', () => {
    sandbox.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    prod.resourceCountIs('AWS::SNS::Subscription', 0);
    sandbox.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  test("dashboard graphs database health and each function's invocations, errors, duration, throttles and concurrency", () => {
    const [, dashboard] = resourcesOf(sandbox, 'AWS::CloudWatch::Dashboard')[0];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of [
      'DatabaseConnections',
      'CPUUtilization',
      'FreeableMemory',
      'FreeStorageSpace',
    ]) {
      expect(body).toContain(`\\"${metric}\\"`);
    }
    for (const metric of [
      'Invocations',
      'Errors',
      'Duration',
      'Throttles',
      'ConcurrentExecutions',
    ]) {
      expect(body.match(new RegExp(`\\\\"${metric}\\\\"`, 'g'))?.length).toBeGreaterThanOrEqual(2);
    }
    expect(body).toContain('max_connections');
  });
});

test('outputs name the functions, the secret, the dashboard URL and the alarm topic', () => {
  const outputs = Object.keys(sandbox.findOutputs('*'));
  expect(outputs).toEqual(
    expect.arrayContaining([
      ...DATA_FUNCTIONS.flatMap(({ name }) => [
        `${constructIdOf(name)}FunctionName`,
        `${constructIdOf(name)}SecretArn`,
      ]),
      'DatabaseSecretArn',
      'DashboardUrl',
      'AlarmTopicArn',
    ])
  );
});

describe('least-privilege users, deploy-time schema, rotation', () => {
  const secretRef = (fn: [string, CfnResource]) =>
    fn[1].Properties.Environment.Variables.DB_SECRET_ARN.Ref;
  const migrationFunction = () => functionByDescription(sandbox, 'Applies the schema');

  test("generated secrets (the admin's and one per declared function), each rotated every 30 days", () => {
    const secrets = resourcesOf(sandbox, 'AWS::SecretsManager::Secret');
    const templates = secrets.map(([, s]) =>
      JSON.parse(s.Properties.GenerateSecretString.SecretStringTemplate)
    );
    expect(templates).toEqual(
      expect.arrayContaining([
        { username: 'admin', dbname: 'app' },
        ...DATA_FUNCTIONS.map(({ name }) => ({ username: usernameOf(name), dbname: 'app' })),
      ])
    );
    const attachments = resourcesOf(sandbox, 'AWS::SecretsManager::SecretTargetAttachment');
    const schedules = resourcesOf(sandbox, 'AWS::SecretsManager::RotationSchedule');
    expect(secrets).toHaveLength(DATA_FUNCTIONS.length + 1);
    expect(schedules).toHaveLength(DATA_FUNCTIONS.length + 1);
    for (const [, schedule] of schedules) {
      expect(schedule.Properties.RotationRules).toEqual({ ScheduleExpression: 'rate(30 days)' });
    }
    // Every schedule rotates one of the attached (host-bearing) secrets, each a different one.
    const attachmentIds = attachments.map(([id]) => id);
    expect(new Set(schedules.map(([, s]) => s.Properties.SecretId.Ref))).toEqual(
      new Set(attachmentIds)
    );
  });

  test('each data function connects with its own secret, never the admin one', () => {
    const adminSecret = resourcesOf(sandbox, 'AWS::SecretsManager::SecretTargetAttachment').find(
      ([id]) => id.startsWith('DatabaseAdminSecretAttachment')
    )![0];
    for (const { name } of DATA_FUNCTIONS) {
      expect(secretRef(functionOf(sandbox, name))).toMatch(
        new RegExp(`^Database${constructIdOf(name)}SecretAttachment`)
      );
    }
    expect(secretRef(migrationFunction())).toBe(adminSecret);
  });

  test('only the migration and the rotation function may read the admin secret', () => {
    const adminSecret = secretRef(migrationFunction());
    const readers = resourcesOf(sandbox, 'AWS::IAM::Policy').filter(([, p]) =>
      JSON.stringify(p.Properties.PolicyDocument).includes(`"Ref":"${adminSecret}"`)
    );
    const [, rotator] = rotationFunction(sandbox);
    expect(readers.map(([, p]) => p.Properties.Roles[0].Ref).sort()).toEqual(
      [
        migrationFunction()[1].Properties.Role['Fn::GetAtt'][0],
        rotator.Properties.Role['Fn::GetAtt'][0],
      ].sort()
    );
  });

  test('the schema migration custom resource runs after the database, with each user and its secret', () => {
    const [id, resource] = Object.entries(sandbox.findResources('Custom::SchemaMigration'))[0];
    const [dbId] = resourcesOf(sandbox, 'AWS::RDS::DBInstance')[0];
    expect(resource.DependsOn).toEqual(expect.arrayContaining([dbId]));
    expect(resource.Properties.Users).toEqual(
      DATA_FUNCTIONS.map(({ name }) => ({
        Role: name,
        SecretArn: { Ref: secretRef(functionOf(sandbox, name)) },
      }))
    );
    expect(resource.Properties.SchemaVersion).toMatch(/^[0-9a-f]{16}$/);
    expect(id).toBeDefined();
  });

  test('every data function is created only after the migration', () => {
    const [migrationId] = Object.keys(sandbox.findResources('Custom::SchemaMigration'));
    for (const fn of dataFunctionsOf(sandbox)) {
      const [fnId] = fn;
      expect(sandbox.toJSON().Resources[fnId].DependsOn).toEqual(
        expect.arrayContaining([migrationId])
      );
    }
  });

  test('every secret is first rotated only after the migration: it made the users, and logs in as admin', () => {
    const [migrationId] = Object.keys(sandbox.findResources('Custom::SchemaMigration'));
    const schedules = Object.values(sandbox.findResources('AWS::SecretsManager::RotationSchedule'));
    expect(schedules).toHaveLength(DATA_FUNCTIONS.length + 1);
    for (const schedule of schedules) {
      expect(schedule.DependsOn).toEqual(expect.arrayContaining([migrationId]));
    }
  });

  test('the migration function may read the user secrets too, to set their passwords', () => {
    const role = migrationFunction()[1].Properties.Role['Fn::GetAtt'][0];
    const statements = resourcesOf(sandbox, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const resources = statements
      .flatMap((s) => [s.Resource].flat().map((r) => r?.Ref))
      .filter(Boolean);
    expect(new Set(resources)).toEqual(
      new Set([secretRef(migrationFunction()), ...dataFunctionsOf(sandbox).map(secretRef)])
    );
  });

  test('the migration function may describe the user secrets and read any version (a rotation in progress), in both stages', () => {
    for (const template of [sandbox, prod]) {
      const migration = functionByDescription(template, 'Applies the schema');
      const role = migration[1].Properties.Role['Fn::GetAtt'][0];
      const statements = resourcesOf(template, 'AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
      for (const user of dataFunctionsOf(template)) {
        expect(statements).toContainEqual(
          expect.objectContaining({
            Effect: 'Allow',
            Action: expect.arrayContaining([
              'secretsmanager:DescribeSecret',
              'secretsmanager:GetSecretValue',
            ]),
            Resource: expect.arrayContaining([{ Ref: secretRef(user) }]),
          })
        );
        // A VersionStage condition would hide AWSPENDING from the lockout check.
        const onSecret = (s: { Resource: unknown }) =>
          [s.Resource].flat().some((r) => (r as { Ref?: string })?.Ref === secretRef(user));
        expect(statements.filter((s) => onSecret(s) && s.Condition)).toEqual([]);
      }
    }
  });
});

describe('the app', () => {
  test('tags every resource with the project and the stage', () => {
    for (const [template, stage] of [
      [sandbox, 'sandbox'],
      [prod, 'prod'],
    ] as const) {
      template.hasResourceProperties('AWS::RDS::DBInstance', {
        Tags: Match.arrayWith([
          { Key: 'Project', Value: 'lambda-rds-mysql' },
          { Key: 'Stage', Value: stage },
        ]),
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Tags: Match.arrayWith([{ Key: 'Stage', Value: stage }]),
      });
    }
  });

  test('prod has termination protection; sandbox can be destroyed', () => {
    expect(prodStack.terminationProtection).toBe(true);
    expect(sandboxStack.terminationProtection).toBe(false);
  });
});

// Defects that only a deploy to a real account shows, each asserted for
// both stages on the templates synthesized above.
const MIB = 1024 ** 2;
const getAttId = (value: { 'Fn::GetAtt'?: [string, string] }) => value['Fn::GetAtt']?.[0];
const ingressInto = (template: Template, groupId: string) =>
  resourcesOf(template, 'AWS::EC2::SecurityGroupIngress').filter(
    ([, rule]) => getAttId(rule.Properties.GroupId) === groupId
  );
/** The one function every rotation schedule invokes. */
const rotationFunction = (template: Template): [string, CfnResource] => {
  const targets = new Set(
    resourcesOf(template, 'AWS::SecretsManager::RotationSchedule').map(([, schedule]) =>
      getAttId(schedule.Properties.RotationLambdaARN)
    )
  );
  expect(targets.size).toBe(1);
  const [id] = [...targets];
  return resourcesOf(template, 'AWS::Lambda::Function').find(([fnId]) => fnId === id)!;
};
const topicPolicyStatements = (template: Template) => {
  const policies = resourcesOf(template, 'AWS::SNS::TopicPolicy');
  expect(policies).toHaveLength(1);
  return policies[0][1].Properties.PolicyDocument.Statement as CfnResource['Properties'][];
};
const servicePublish = (template: Template, service: string) =>
  topicPolicyStatements(template).filter(
    (s) => s.Effect === 'Allow' && s.Principal?.Service === service
  );

describe.each(['sandbox', 'prod'] as const)('deploy-ready on a real account, %s stage', (stage) => {
  const template = () => (stage === 'sandbox' ? sandbox : prod);
  const config = stageConfig(stage);
  const budget = connectionBudget({
    instanceMemoryMiB: config.instanceMemoryMiB,
    reserved: reservedConnections(DATA_FUNCTIONS.length),
    functions: DATA_FUNCTIONS,
  });

  test('1. the rotation function reaches the Secrets Manager endpoint on 443 and the database port, and nothing else', () => {
    const [, endpoint] = resourcesOf(template(), 'AWS::EC2::VPCEndpoint')[0];
    const endpointGroup = getAttId(endpoint.Properties.SecurityGroupIds[0]);
    const [dbId, db] = resourcesOf(template(), 'AWS::RDS::DBInstance')[0];
    const dbGroup = getAttId(db.Properties.VPCSecurityGroups[0]);
    const schedules = resourcesOf(template(), 'AWS::SecretsManager::RotationSchedule');
    expect(schedules).toHaveLength(DATA_FUNCTIONS.length + 1); // the admin's and one per function
    const [, rotator] = rotationFunction(template());
    // One connection per rotated secret: what reservedConnections().rotation counts. No reserved
    // concurrency, which AWS warns can throttle a rotation function below 10.
    expect(schedules).toHaveLength(budget.reserved.rotation);
    expect(rotator.Properties.ReservedConcurrentExecutions).toBeUndefined();
    const rotationGroup = getAttId(rotator.Properties.VpcConfig.SecurityGroupIds[0]);
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
    const egress = resourcesOf(template(), 'AWS::EC2::SecurityGroupEgress').filter(
      ([, rule]) => getAttId(rule.Properties.GroupId) === rotationGroup
    );
    expect(
      egress.map(([, rule]) => getAttId(rule.Properties.DestinationSecurityGroupId)).sort()
    ).toEqual([dbGroup, endpointGroup].sort());
  });

  test('1. the rotation function calls the standard Secrets Manager hostname, which private DNS maps to the endpoint, and trusts the RDS CA the instance uses', () => {
    const [, endpoint] = resourcesOf(template(), 'AWS::EC2::VPCEndpoint')[0];
    expect(endpoint.Properties.PrivateDnsEnabled).toBe(true);
    const [, rotator] = rotationFunction(template());
    const env = rotator.Properties.Environment.Variables;
    expect(Object.keys(env).filter((name) => name.startsWith('AWS_ENDPOINT_URL'))).toEqual([]);
    const [, db] = resourcesOf(template(), 'AWS::RDS::DBInstance')[0];
    expect(env.DB_CA_TYPE).toBe(db.Properties.CACertificateIdentifier);
    expect(env.DB_TLS_CA_FILE).toBeUndefined();
  });

  test('1. Secrets Manager may invoke the rotation function for this account only, and each schedule waits for that permission', () => {
    const [rotatorId] = rotationFunction(template());
    const permissions = resourcesOf(template(), 'AWS::Lambda::Permission').filter(
      ([, p]) => getAttId(p.Properties.FunctionName) === rotatorId
    );
    expect(permissions.map(([, p]) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [rotatorId, 'Arn'] },
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: { Ref: 'AWS::AccountId' },
      },
    ]);
    for (const [, schedule] of resourcesOf(template(), 'AWS::SecretsManager::RotationSchedule')) {
      expect((schedule as unknown as { DependsOn: string[] }).DependsOn).toContain(
        permissions[0][0]
      );
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
    const reserved = dataFunctionsOf(template()).map(
      ([, fn]) => fn.Properties.ReservedConcurrentExecutions
    );
    // Direct connections: one per environment. Behind a proxy (prod): test/lib/database-proxy.test.ts.
    const kept = Object.values(reservedConnections(DATA_FUNCTIONS.length)).reduce(
      (a, b) => a + b,
      0
    );
    if (!config.proxy) expect(reserved.reduce((a, b) => a + b, 0)).toBe(maxConnections - kept);
    // Behind a proxy the threshold follows the pool: test/lib/invariants (connection alarms).
    if (!config.proxy) {
      template().hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'DatabaseConnections',
        Threshold: budget.alarmThreshold,
      });
    }
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

  test("6. every data function's failing invocations raise alarms that notify the topic and show on the dashboard", () => {
    const [topicId] = resourcesOf(template(), 'AWS::SNS::Topic')[0];
    const [, dashboard] = resourcesOf(template(), 'AWS::CloudWatch::Dashboard')[0];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const [fnId] of dataFunctionsOf(template())) {
      // Failures that are the stack's own (a rejected event raises none: function-alarms.ts).
      const alarms = resourcesOf(template(), 'AWS::CloudWatch::Alarm').filter(
        ([, a]) =>
          a.Properties.MetricName === 'Failures' &&
          a.Properties.Namespace === 'LambdaRds/DataPath' &&
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

describe('npm run preflight', () => {
  test('checks what each stage deploys: every reservation, the engine, class and Multi-AZ', () => {
    for (const [template, stage] of [
      [sandbox, STAGES.sandbox],
      [prod, STAGES.prod],
    ] as const) {
      const facts = factsFromTemplate('stack', template.toJSON(), {
        parameter: 'p',
        minVersion: 6,
      });
      const reserved = resourcesOf(template, 'AWS::Lambda::Function')
        .map(([, f]) => Number(f.Properties.ReservedConcurrentExecutions ?? 0))
        .reduce((a, b) => a + b, 0);
      expect(facts.reservations).toHaveLength(DATA_FUNCTIONS.length + 1); // and the migration
      expect(facts.reservations.reduce((sum, f) => sum + f.reserved, 0)).toBe(reserved);
      // The primary, then its read replicas (same engine and class, single-AZ).
      expect(facts.databases).toEqual([
        expect.objectContaining({
          engine: 'mysql',
          engineVersion: expect.stringMatching(/^8\.4/),
          instanceClass: `db.${stage.instanceType}`,
          multiAz: stage.multiAz,
          storageType: 'gp3',
        }),
        ...Array.from({ length: stage.readReplicas }, () =>
          expect.objectContaining({
            engine: 'mysql',
            engineVersion: facts.databases[0].engineVersion,
            instanceClass: `db.${stage.instanceType}`,
            multiAz: false,
            storageType: 'gp3',
          })
        ),
      ]);
    }
  });
});
