import { Match, Template } from 'aws-cdk-lib/assertions';
import { connectionBudget } from '../../lib/connection-budget';
import { LambdaRdsStack } from '../../lib/lambda-rds-stack';
import { CfnResource, resourcesOf, synthesize } from './synthesize';

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
  reservedForOperators: 10,
  writerShare: 1 / 3,
  alarmAtShareOfMax: 0.8,
});

function functionByDescription(template: Template, start: string) {
  const found = resourcesOf(template, 'AWS::Lambda::Function').filter(([, r]) =>
    String(r.Properties.Description ?? '').startsWith(start)
  );
  expect(found).toHaveLength(1);
  return found[0];
}
const writerOf = (t: Template) => functionByDescription(t, 'Upserts a user');
const readerOf = (t: Template) => functionByDescription(t, 'Reads a user');

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

  test('database accepts 3306 only from the functions, the migration and the rotation functions', () => {
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
    expect(sources).toEqual([
      expect.stringMatching(/^DatabaseInstanceRotationSingleUserSecurityGroup/),
      expect.stringMatching(/^DatabaseReaderRotationSecurityGroup/),
      expect.stringMatching(/^DatabaseWriterRotationSecurityGroup/),
      expect.stringMatching(/^FunctionsReaderSecurityGroup/),
      expect.stringMatching(/^FunctionsWriterSecurityGroup/),
      expect.stringMatching(/^SchemaMigrationMigrationFunctionSecurityGroup/),
    ]);
  });

  test('functions may send traffic only to the database and the Secrets Manager endpoint', () => {
    for (const [, fn] of [writerOf(sandbox), readerOf(sandbox)]) {
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

  test('parameter group: idle connections closed within minutes, durable commits, short lock waits, TLS required', () => {
    sandbox.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: 'mysql8.4',
      Parameters: Match.objectLike({
        wait_timeout: '300',
        interactive_timeout: '300',
        innodb_flush_log_at_trx_commit: '1',
        sync_binlog: '1',
        innodb_lock_wait_timeout: '2',
        require_secure_transport: '1',
        max_connections: String(budget.maxConnections),
      }),
    });
    const params = resourcesOf(sandbox, 'AWS::RDS::DBParameterGroup')[0][1].Properties.Parameters;
    expect(Number(params.wait_timeout)).toBeLessThanOrEqual(900);
  });

  test('exported logs have a retention (no log-retention custom resource)', () => {
    for (const log of ['error', 'slowquery']) {
      sandbox.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/rds/instance/lambdardsmysql-sandbox-database/${log}`,
        RetentionInDays: 7,
      });
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
  test('run Node.js 24 on arm64 with JSON logs, source maps and a timeout above the connect timeout', () => {
    for (const [, fn] of [writerOf(sandbox), readerOf(sandbox)]) {
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
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
    }
  });

  test('reserved concurrency comes from the connection budget and never exceeds it', () => {
    const [, writer] = writerOf(sandbox);
    const [, reader] = readerOf(sandbox);
    expect(writer.Properties.ReservedConcurrentExecutions).toBe(budget.writerConcurrency);
    expect(reader.Properties.ReservedConcurrentExecutions).toBe(budget.readerConcurrency);
    expect(
      writer.Properties.ReservedConcurrentExecutions +
        reader.Properties.ReservedConcurrentExecutions
    ).toBeLessThan(budget.maxConnections);
  });

  test("environment holds the secret's ARN and nothing secret", () => {
    for (const [, fn] of [writerOf(sandbox), readerOf(sandbox)]) {
      const vars = fn.Properties.Environment.Variables;
      expect(Object.keys(vars).sort()).toEqual(['DB_CA_TYPE', 'DB_SECRET_ARN', 'NODE_OPTIONS']);
      expect(vars.DB_SECRET_ARN).toEqual({ Ref: expect.stringMatching(/Secret/) });
      expect(JSON.stringify(vars)).not.toMatch(/password|SecretString/i);
    }
  });

  test('functions trust the CA type the database instance is signed by', () => {
    // GIVEN the instance's CA  WHEN the functions are bound to it  THEN they name the same CA
    const [[, instance]] = resourcesOf(sandbox, 'AWS::RDS::DBInstance');
    expect(instance.Properties.CACertificateIdentifier).toBe('rds-ca-rsa2048-g1');
    for (const [, fn] of [writerOf(sandbox), readerOf(sandbox)]) {
      expect(fn.Properties.Environment.Variables.DB_CA_TYPE).toBe(
        instance.Properties.CACertificateIdentifier
      );
    }
  });

  test('IAM lets each function read only its named secret', () => {
    for (const [, fn] of [writerOf(sandbox), readerOf(sandbox)]) {
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
  test('DatabaseConnections alarm fires at 80 % of max_connections and notifies the topic', () => {
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
      Threshold: 256 * 1024 ** 2,
    });
    sandbox.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'FreeStorageSpace',
      Threshold: 2 * 1024 ** 3,
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
      'WriterFunctionName',
      'ReaderFunctionName',
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

  test('three generated secrets (admin, writer, reader), each rotated every 30 days', () => {
    const secrets = resourcesOf(sandbox, 'AWS::SecretsManager::Secret');
    const templates = secrets.map(([, s]) =>
      JSON.parse(s.Properties.GenerateSecretString.SecretStringTemplate)
    );
    expect(templates).toEqual(
      expect.arrayContaining([
        { username: 'admin', dbname: 'app' },
        { username: 'writer', dbname: 'app' },
        { username: 'reader', dbname: 'app' },
      ])
    );
    const attachments = resourcesOf(sandbox, 'AWS::SecretsManager::SecretTargetAttachment');
    const schedules = resourcesOf(sandbox, 'AWS::SecretsManager::RotationSchedule');
    expect(secrets).toHaveLength(3);
    expect(schedules).toHaveLength(3);
    for (const [, schedule] of schedules) {
      expect(schedule.Properties.RotationRules).toEqual({ ScheduleExpression: 'rate(30 days)' });
    }
    // Every schedule rotates one of the attached (host-bearing) secrets, each a different one.
    const attachmentIds = attachments.map(([id]) => id);
    expect(new Set(schedules.map(([, s]) => s.Properties.SecretId.Ref))).toEqual(
      new Set(attachmentIds)
    );
  });

  test('the writer and the reader each connect with their own secret, never the admin one', () => {
    const adminSecret = resourcesOf(sandbox, 'AWS::SecretsManager::SecretTargetAttachment').find(
      ([id]) => id.startsWith('DatabaseAdminSecretAttachment')
    )![0];
    const writerSecret = secretRef(writerOf(sandbox));
    const readerSecret = secretRef(readerOf(sandbox));
    expect(writerSecret).toMatch(/^DatabaseWriterSecretAttachment/);
    expect(readerSecret).toMatch(/^DatabaseReaderSecretAttachment/);
    expect(secretRef(migrationFunction())).toBe(adminSecret);
  });

  test('only the migration function may read the admin secret', () => {
    const adminSecret = secretRef(migrationFunction());
    const readers = resourcesOf(sandbox, 'AWS::IAM::Policy').filter(([, p]) =>
      JSON.stringify(p.Properties.PolicyDocument).includes(`"Ref":"${adminSecret}"`)
    );
    expect(readers.map(([, p]) => p.Properties.Roles[0].Ref)).toEqual([
      migrationFunction()[1].Properties.Role['Fn::GetAtt'][0],
    ]);
  });

  test('the schema migration custom resource runs after the database, with each user and its secret', () => {
    const [id, resource] = Object.entries(sandbox.findResources('Custom::SchemaMigration'))[0];
    const [dbId] = resourcesOf(sandbox, 'AWS::RDS::DBInstance')[0];
    expect(resource.DependsOn).toEqual(expect.arrayContaining([dbId]));
    expect(resource.Properties.Users).toEqual([
      { Role: 'writer', SecretArn: { Ref: secretRef(writerOf(sandbox)) } },
      { Role: 'reader', SecretArn: { Ref: secretRef(readerOf(sandbox)) } },
    ]);
    expect(resource.Properties.SchemaVersion).toMatch(/^[0-9a-f]{16}$/);
    expect(id).toBeDefined();
  });

  test('the writer and the reader are created only after the migration', () => {
    const [migrationId] = Object.keys(sandbox.findResources('Custom::SchemaMigration'));
    for (const fn of [writerOf(sandbox), readerOf(sandbox)]) {
      const [fnId] = fn;
      expect(sandbox.toJSON().Resources[fnId].DependsOn).toEqual(
        expect.arrayContaining([migrationId])
      );
    }
  });

  test('the writer and reader secrets are first rotated only after the migration made their users', () => {
    const [migrationId] = Object.keys(sandbox.findResources('Custom::SchemaMigration'));
    const userSchedules = Object.values(
      sandbox.findResources('AWS::SecretsManager::RotationSchedule')
    ).filter((schedule) =>
      /^Database(Writer|Reader)SecretAttachment/.test(schedule.Properties.SecretId.Ref)
    );
    expect(userSchedules).toHaveLength(2);
    for (const schedule of userSchedules) {
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
      new Set([
        secretRef(migrationFunction()),
        secretRef(writerOf(sandbox)),
        secretRef(readerOf(sandbox)),
      ])
    );
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
