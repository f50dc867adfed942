import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  connectionBudget,
  proxyConnectionBudget,
  reservedConnections,
} from '../../lib/connection-budget';
import { constructIdOf } from '../../lib/data-function-declaration';
import { DATA_FUNCTIONS } from '../../lib/declared-functions';
import { dataFunctionsOf } from './declared';
import { DatabaseProxy } from '../../lib/database-proxy';
import { PROXY_BORROW_TIMEOUT_MS } from '../../lambda/lib/server-bounds';
import { resourcesOf, synthesize, testApp } from './synthesize';

// GIVEN each stage with the proxy on and off
let sandboxOff: Template;
let sandboxOn: Template;
let prodOn: Template;
let prodOff: Template;
let sandboxOnOutdir: string;
beforeAll(() => {
  sandboxOff = synthesize('sandbox').template;
  ({ template: sandboxOn, outdir: sandboxOnOutdir } = synthesize('sandbox', {
    context: { proxy: 'true' },
  }));
  prodOn = synthesize('prod').template;
  prodOff = synthesize('prod', { context: { proxy: 'false' } }).template;
});

const dataFunctions = (t: Template) => dataFunctionsOf(t);

/** Ingress rules on the instance's security group whose source is a data function's. */
function functionsToInstance(t: Template) {
  const functionSgs = dataFunctions(t).map(([, fn]) =>
    JSON.stringify(fn.Properties.VpcConfig.SecurityGroupIds)
  );
  return resourcesOf(t, 'AWS::EC2::SecurityGroupIngress').filter(
    ([, r]) =>
      JSON.stringify(r.Properties.GroupId).includes('DatabaseInstanceSecurityGroup') &&
      functionSgs.some((sg) =>
        sg.includes(JSON.stringify(r.Properties.SourceSecurityGroupId?.['Fn::GetAtt']?.[0]))
      )
  );
}

describe('RDS Proxy', () => {
  test('is off in sandbox and on in prod; -c proxy switches it either way', () => {
    sandboxOff.resourceCountIs('AWS::RDS::DBProxy', 0);
    prodOff.resourceCountIs('AWS::RDS::DBProxy', 0);
    sandboxOn.resourceCountIs('AWS::RDS::DBProxy', 1);
    prodOn.resourceCountIs('AWS::RDS::DBProxy', 1);
  });

  test('requires TLS and authenticates the functions with their own user secrets', () => {
    for (const t of [sandboxOn, prodOn]) {
      t.hasResourceProperties('AWS::RDS::DBProxy', {
        EngineFamily: 'MYSQL',
        RequireTLS: true,
        Auth: DATA_FUNCTIONS.map(() =>
          Match.objectLike({ AuthScheme: 'SECRETS', IAMAuth: 'DISABLED' })
        ),
      });
    }
  });

  test('clients log in with caching_sha2_password, the plugin the migration names on MySQL 8.4', () => {
    for (const t of [sandboxOn, prodOn]) {
      const auth = resourcesOf(t, 'AWS::RDS::DBProxy')[0][1].Properties.Auth;
      expect(
        auth.map((a: { ClientPasswordAuthType?: string }) => a.ClientPasswordAuthType)
      ).toEqual(DATA_FUNCTIONS.map(() => 'MYSQL_CACHING_SHA2_PASSWORD'));
    }
  });

  test('sizes its pool from the budget and borrows within the statement timeout', () => {
    const expected = proxyConnectionBudget({
      direct: connectionBudget({
        instanceMemoryMiB: 4096,
        reserved: reservedConnections(DATA_FUNCTIONS.length),
        functions: DATA_FUNCTIONS,
      }),
      functions: DATA_FUNCTIONS,
      clientsPerServerConnection: 4,
      concurrencyCap: 300,
    });
    prodOn.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: {
        MaxConnectionsPercent: expected.maxConnectionsPercent,
        MaxIdleConnectionsPercent: expected.maxIdleConnectionsPercent,
        ConnectionBorrowTimeout: PROXY_BORROW_TIMEOUT_MS / 1000,
      },
    });
    const concurrency = dataFunctions(prodOn).map(
      ([, fn]) => fn.Properties.ReservedConcurrentExecutions
    );
    expect(concurrency).toEqual(DATA_FUNCTIONS.map(({ name }) => expected.concurrency[name]));
  });

  test('functions get the proxy endpoint as DB_PROXY_HOST, and only with the proxy on', () => {
    for (const [, fn] of dataFunctions(prodOn)) {
      expect(fn.Properties.Environment.Variables.DB_PROXY_HOST).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^Proxy/), 'Endpoint'],
      });
    }
    for (const [, fn] of dataFunctions(prodOff)) {
      expect(fn.Properties.Environment.Variables.DB_PROXY_HOST).toBeUndefined();
    }
  });

  test('network: functions reach the proxy on 3306, the proxy reaches only the instance on 3306', () => {
    const proxySg = resourcesOf(prodOn, 'AWS::EC2::SecurityGroup').find(([, sg]) =>
      String(sg.Properties.GroupDescription).startsWith('RDS Proxy')
    );
    expect(proxySg).toBeDefined();
    const [proxySgId, { Properties: proxySgProps }] = proxySg!;
    // No open egress: the only egress rule is to the instance's security group.
    expect(JSON.stringify(proxySgProps.SecurityGroupEgress ?? [])).not.toContain('0.0.0.0/0');
    const egress = resourcesOf(prodOn, 'AWS::EC2::SecurityGroupEgress').filter(([, r]) =>
      JSON.stringify(r.Properties.GroupId).includes(proxySgId)
    );
    expect(egress).toHaveLength(1);
    expect(JSON.stringify(egress[0][1].Properties.DestinationSecurityGroupId)).toContain(
      'DatabaseInstanceSecurityGroup'
    );
    expect(egress[0][1].Properties.FromPort).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^DatabaseInstance/), 'Endpoint.Port'],
    });
    const ingress = resourcesOf(prodOn, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) =>
      JSON.stringify(r.Properties.GroupId).includes(proxySgId)
    );
    expect(ingress).toHaveLength(DATA_FUNCTIONS.length); // one per function
    for (const [, r] of ingress) expect(r.Properties.FromPort).toBe(3306);
    // The functions' own security groups no longer reach the instance directly (they do without).
    expect(functionsToInstance(prodOn)).toEqual([]);
    expect(functionsToInstance(prodOff)).toHaveLength(DATA_FUNCTIONS.length);
  });

  test("the proxy role may read exactly the functions' user secrets", () => {
    const proxyPolicies = resourcesOf(prodOn, 'AWS::IAM::Policy').filter(([id]) =>
      id.startsWith('ProxyIAMRoleDefaultPolicy')
    );
    expect(proxyPolicies).toHaveLength(1);
    const statements = proxyPolicies[0][1].Properties.PolicyDocument.Statement;
    const resources: string[] = statements
      .flatMap((st: { Resource: unknown }) => [st.Resource].flat())
      .map((r: unknown) => JSON.stringify(r));
    expect(resources).toHaveLength(DATA_FUNCTIONS.length);
    for (const { name } of DATA_FUNCTIONS) {
      expect(resources.some((r) => r.includes(`Database${constructIdOf(name)}Secret`))).toBe(true);
    }
  });

  test('alarms on pinned sessions above 0, client connections, borrow and query latency, on the alarm topic', () => {
    const proxyAlarms = resourcesOf(prodOn, 'AWS::CloudWatch::Alarm')
      .map(([, a]) => a.Properties)
      .filter((a) => JSON.stringify(a).includes('"ProxyName"'));
    const byMetric = (name: string) =>
      proxyAlarms.filter((a) => JSON.stringify(a.Metrics ?? a.MetricName).includes(`"${name}"`));
    for (const metricName of [
      'DatabaseConnectionsCurrentlySessionPinned',
      'ClientConnections',
      'DatabaseConnectionsBorrowLatency',
      'QueryDatabaseResponseLatency',
    ]) {
      const [alarm] = byMetric(metricName);
      expect(alarm).toBeDefined();
      expect(JSON.stringify(alarm.AlarmActions)).toContain('AlarmTopic');
    }
    expect(byMetric('DatabaseConnectionsCurrentlySessionPinned')[0]).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  test('the dashboard graphs the proxy', () => {
    const [, dashboard] = resourcesOf(prodOn, 'AWS::CloudWatch::Dashboard')[0];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain('DatabaseConnectionsCurrentlySessionPinned');
    expect(body).toContain('QueryDatabaseResponseLatency');
  });

  test('cdk-nag finds nothing unacknowledged with the proxy on', () => {
    const report = JSON.parse(
      readFileSync(path.join(sandboxOnOutdir, 'validation-report.json'), 'utf8')
    );
    expect(report.pluginReports).toEqual([]);
  });
});

describe('DatabaseProxy props', () => {
  test('fails when the borrow timeout exceeds what the statement timeout leaves for it', () => {
    const stack = new Stack(testApp(), 'Test');
    expect(
      () =>
        new DatabaseProxy(stack, 'Proxy', {
          // Validated before any of these are used.
          vpc: undefined as never,
          vpcSubnets: {},
          instance: undefined as never,
          secrets: [],
          maxConnectionsPercent: 50,
          maxIdleConnectionsPercent: 25,
          clientConnectionsAlarmThreshold: 10,
          borrowTimeout: Duration.seconds(2),
        })
    ).toThrow(/borrowTimeout must not exceed 1000 ms .* got 2000 ms/);
  });
});
