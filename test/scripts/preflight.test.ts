import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import {
  GetAccountSettingsCommand,
  GetFunctionConcurrencyCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import {
  DescribeDBEngineVersionsCommand,
  DescribeDBInstancesCommand,
  DescribeDBProxiesCommand,
  DescribeOrderableDBInstanceOptionsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { STAGES } from '../../lib/stage-config';
import { PREFLIGHT_CLI, preflightArgs } from '../../scripts/preflight/args';
import { parseOptions } from '../../scripts/lib/cli';
import {
  CheckResult,
  DEFAULT_PROXY_QUOTA,
  PreflightClients,
  formatReport,
  runPreflight,
} from '../../scripts/preflight/checks';
import { compareVersions } from '../../scripts/preflight/engine-versions';
import {
  StageFacts,
  factsFromTemplate,
  synthesizeStage,
} from '../../scripts/preflight/stage-facts';

// `npm run preflight` without AWS: the SDK clients are stubbed at their boundary
// (aws-sdk-client-mock); the facts come from the real synthesized sandbox template.

const lambda = mockClient(LambdaClient);
const cfn = mockClient(CloudFormationClient);
const rds = mockClient(RDSClient);
const ssm = mockClient(SSMClient);

const access = { region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } };
function clients(config: ConstructorParameters<typeof LambdaClient>[0] = access): PreflightClients {
  return {
    lambda: new LambdaClient(config),
    cloudFormation: new CloudFormationClient(access),
    rds: new RDSClient(access),
    ssm: new SSMClient(access),
  };
}

const facts: StageFacts = {
  stackName: 'LambdaRdsMysql-sandbox',
  reservations: [
    { id: 'Writer', reserved: 25 },
    { id: 'Reader', reserved: 50 },
    { id: 'Migration', reserved: 1 },
  ],
  databases: [
    {
      id: 'Instance',
      engine: 'mysql',
      engineVersion: '8.4.10',
      instanceClass: 'db.t4g.micro',
      multiAz: false,
      storageType: 'gp3',
    },
  ],
  bootstrap: { parameter: '/cdk-bootstrap/hnb659fds/version', minVersion: 6 },
};

/** An account where everything the stage needs is there; tests break one thing each. */
function healthyAccount({ limit = 1000, unreserved = 1000 } = {}) {
  lambda.on(GetAccountSettingsCommand).resolves({
    AccountLimit: { ConcurrentExecutions: limit, UnreservedConcurrentExecutions: unreserved },
  });
  const missing = Object.assign(new Error('Stack with id LambdaRdsMysql-sandbox does not exist'), {
    name: 'ValidationError',
  });
  cfn.on(ListStackResourcesCommand).rejects(missing);
  rds.on(DescribeDBEngineVersionsCommand).resolves({
    DBEngineVersions: [{ Engine: 'mysql', EngineVersion: '8.4.10', Status: 'available' }],
  });
  rds.on(DescribeOrderableDBInstanceOptionsCommand).resolves({
    OrderableDBInstanceOptions: [
      { DBInstanceClass: 'db.t4g.micro', StorageType: 'gp3', MultiAZCapable: true },
    ],
  });
  ssm.on(GetParameterCommand).resolves({ Parameter: { Value: '30' } });
}

function result(results: CheckResult[], check: RegExp): CheckResult {
  const found = results.find((r) => check.test(r.check));
  expect(found).toBeDefined();
  return found!;
}

beforeEach(() => {
  for (const mock of [lambda, cfn, rds, ssm]) mock.reset();
});

describe('npm run preflight', () => {
  test('an account with room for everything passes every check', async () => {
    healthyAccount();
    const { region, results } = await runPreflight(clients(), facts);
    expect(region).toBe('eu-west-1');
    expect(results.map((r) => [r.check, r.ok])).toEqual([
      ['Lambda concurrency', true],
      ['RDS mysql 8.4.10 on db.t4g.micro', true],
      ['Engine versions of the running instances', true],
      ['CDK bootstrap', true],
    ]);
    expect(formatReport('-c stage=sandbox', facts.stackName, region, results)).toMatch(
      /\nOK {4}Lambda concurrency: [\s\S]*\nThe deploy can succeed: npx cdk deploy -c stage=sandbox$/
    );
  });

  test('a new account whose concurrency limit is 50 fails, with the quota to ask for', async () => {
    healthyAccount({ limit: 50, unreserved: 50 });
    const { results } = await runPreflight(clients(), facts);
    const concurrency = result(results, /concurrency/);
    expect(concurrency.ok).toBe(false);
    // 50 - 76 leaves -26 unreserved; 100 must stay: the limit must grow by 126, to 176.
    expect(concurrency.message).toMatch(/stack reserves 76 \(Writer 25, Reader 50, Migration 1\)/);
    expect(concurrency.message).toMatch(
      /request-service-quota-increase --service-code lambda --quota-code L-B99A9384 --desired-value 176 --region eu-west-1/
    );
    expect(formatReport('-c stage=sandbox', facts.stackName, 'eu-west-1', results)).toMatch(
      /^FAIL {2}Lambda concurrency: [\s\S]*Not ready to deploy/m
    );
  });

  test('exactly 100 left unreserved is enough; 99 is not', async () => {
    healthyAccount({ unreserved: 176 });
    expect(result((await runPreflight(clients(), facts)).results, /concurrency/).ok).toBe(true);
    healthyAccount({ unreserved: 175 });
    expect(result((await runPreflight(clients(), facts)).results, /concurrency/).ok).toBe(false);
  });

  test('on an update, the reservations the stack already holds count as available', async () => {
    // 76 held by this stack's functions leave 120 of 1000 unreserved for everything else.
    healthyAccount({ unreserved: 120 });
    cfn
      .on(ListStackResourcesCommand, { StackName: 'LambdaRdsMysql-sandbox', NextToken: undefined })
      .resolves({
        StackResourceSummaries: [
          fn('writer-fn'),
          fn('gone-fn', 'DELETE_COMPLETE'),
          { ResourceType: 'AWS::RDS::DBInstance', PhysicalResourceId: 'db' } as never,
        ],
        NextToken: 'page-2',
      })
      .on(ListStackResourcesCommand, { NextToken: 'page-2' })
      .resolves({ StackResourceSummaries: [fn('reader-fn'), fn('migration-fn')] });
    lambda
      .on(GetFunctionConcurrencyCommand, { FunctionName: 'writer-fn' })
      .resolves({ ReservedConcurrentExecutions: 25 })
      .on(GetFunctionConcurrencyCommand, { FunctionName: 'reader-fn' })
      .resolves({ ReservedConcurrentExecutions: 50 })
      .on(GetFunctionConcurrencyCommand, { FunctionName: 'migration-fn' })
      .resolves({ ReservedConcurrentExecutions: 1 })
      .on(GetFunctionConcurrencyCommand, { FunctionName: 'gone-fn' })
      .rejects(new Error('must not be asked'));

    const concurrency = result((await runPreflight(clients(), facts)).results, /concurrency/);
    expect(concurrency).toMatchObject({ ok: true });
    expect(concurrency.message).toMatch(/already holds 76.* so 120 would stay unreserved/);
  });

  test('an engine version RDS no longer offers fails, with how to list the ones it does', async () => {
    healthyAccount();
    rds.on(DescribeDBEngineVersionsCommand).resolves({ DBEngineVersions: [] });
    const db = result((await runPreflight(clients(), facts)).results, /RDS/);
    expect(db.ok).toBe(false);
    expect(db.message).toMatch(
      /does not offer mysql 8\.4\.10 .* aws rds describe-db-engine-versions --engine mysql/
    );
  });

  test('a major-only version is checked at the default minor RDS would create', async () => {
    healthyAccount();
    rds
      .on(DescribeDBEngineVersionsCommand, { EngineVersion: '8.4', DefaultOnly: true })
      .resolves({ DBEngineVersions: [{ EngineVersion: '8.4.7', Status: 'available' }] });
    const majorOnly = { ...facts, databases: [{ ...facts.databases[0], engineVersion: '8.4' }] };
    const db = result((await runPreflight(clients(), majorOnly)).results, /RDS/);
    expect(db).toMatchObject({
      ok: true,
      message: expect.stringMatching(/mysql 8\.4\.7 can be created/),
    });
    expect(
      rds.commandCalls(DescribeOrderableDBInstanceOptionsCommand)[0].args[0].input
    ).toMatchObject({
      EngineVersion: '8.4.7',
      DBInstanceClass: 'db.t4g.micro',
    });
  });

  test('an instance class not offered with Multi-AZ in the region fails, with how to list classes', async () => {
    healthyAccount();
    rds.on(DescribeOrderableDBInstanceOptionsCommand).resolves({
      OrderableDBInstanceOptions: [
        { DBInstanceClass: 'db.t4g.micro', StorageType: 'gp3', MultiAZCapable: false },
      ],
    });
    const multiAz = { ...facts, databases: [{ ...facts.databases[0], multiAz: true }] };
    const db = result((await runPreflight(clients(), multiAz)).results, /RDS/);
    expect(db.ok).toBe(false);
    expect(db.message).toMatch(
      /cannot create mysql 8\.4\.10 as db\.t4g\.micro with gp3 storage, Multi-AZ/
    );
    expect(db.message).toMatch(/describe-orderable-db-instance-options .*lib\/stage-config\.ts/);
  });

  test('a region without the CDK bootstrap, or with an old one, fails with the command to run', async () => {
    healthyAccount();
    ssm
      .on(GetParameterCommand)
      .rejects(Object.assign(new Error('not found'), { name: 'ParameterNotFound' }));
    expect(result((await runPreflight(clients(), facts)).results, /bootstrap/)).toEqual({
      check: 'CDK bootstrap',
      ok: false,
      message: expect.stringMatching(
        /not bootstrapped .* Run: npx cdk bootstrap --region eu-west-1$/
      ),
    });
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: '5' } });
    expect(result((await runPreflight(clients(), facts)).results, /bootstrap/)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/version 5; this app needs 6 or later/),
    });
  });

  test('a call the credentials may not make fails that check and says so', async () => {
    healthyAccount();
    lambda.on(GetAccountSettingsCommand).rejects(
      Object.assign(new Error('not authorized to perform: lambda:GetAccountSettings'), {
        name: 'AccessDeniedException',
      })
    );
    const concurrency = result((await runPreflight(clients(), facts)).results, /concurrency/);
    expect(concurrency).toMatchObject({
      ok: false,
      message: expect.stringMatching(
        /could not check: AccessDeniedException: .* use a role that may deploy/
      ),
    });
  });

  test('no region or no credentials stops it with a one-line instruction', async () => {
    const noRegion = { ...access, region: () => Promise.reject(new Error('Region is missing')) };
    await expect(runPreflight(clients(noRegion), facts)).rejects.toThrow(
      /^No AWS region set: run `npm run preflight -- --region eu-west-1`/
    );
    const noCredentials = {
      ...access,
      credentials: () => Promise.reject(new Error('Could not load credentials from any providers')),
    };
    await expect(runPreflight(clients(noCredentials), facts)).rejects.toThrow(
      /^No AWS credentials found: run `aws configure`/
    );
    expect(lambda.calls()).toHaveLength(0);
  });

  test('takes the same -c switches as cdk deploy, checked by the app', () => {
    const args = (...argv: string[]) => preflightArgs(parseOptions(PREFLIGHT_CLI, argv));
    expect(args()).toEqual({ context: { stage: 'sandbox' }, switches: '-c stage=sandbox' });
    expect(
      args('-c', 'proxy=true', '--context=readReplicas=2', '--stage', 'prod', '--region=eu-west-1')
    ).toEqual({
      context: { proxy: 'true', readReplicas: '2', stage: 'prod' },
      switches: '-c proxy=true -c readReplicas=2 -c stage=prod',
      region: 'eu-west-1',
    });
    expect(() => args('--stage')).toThrow(/--stage needs a value/);
    expect(() => args('-c', 'proxy')).toThrow(/-c needs KEY=VALUE, got "proxy"/);
    expect(() => args('-c', 'readReplica=1')).toThrow(
      /Unknown context key "readReplica" \(did you mean readReplicas\?\)/
    );
    expect(() => args('-c', 'proxy=yes')).toThrow(/-c proxy must be true or false/);
  });
});

describe('npm run preflight with the proxy on', () => {
  const withProxy: StageFacts = { ...facts, proxies: [{ id: 'Proxy', engineFamily: 'MYSQL' }] };

  test('without a proxy in the template, nothing asks about RDS Proxy', async () => {
    healthyAccount();
    const { results } = await runPreflight(clients(), facts);
    expect(results.some((r) => /Proxy/.test(r.check))).toBe(false);
    expect(rds.commandCalls(DescribeDBProxiesCommand)).toHaveLength(0);
  });

  test('a region that answers, with room under the quota, passes and points at the engine table', async () => {
    healthyAccount();
    rds
      .on(DescribeDBProxiesCommand, { Marker: undefined })
      .resolves({ DBProxies: [{}], Marker: 'page-2' })
      .on(DescribeDBProxiesCommand, { Marker: 'page-2' })
      .resolves({ DBProxies: [{}] });
    const proxy = result((await runPreflight(clients(), withProxy)).results, /RDS Proxy/);
    expect(proxy).toMatchObject({ check: 'RDS Proxy MYSQL', ok: true });
    expect(proxy.message).toMatch(/has 2 of 20 proxies/);
    expect(proxy.message).toMatch(
      /supports mysql 8\.4\.10 on db\.t4g\.micro here .*\/Concepts\.RDS_Fea_Regions_DB-eng\.Feature\.RDSProxy\.html/
    );
  });

  test('an account at the default proxy quota fails, with how to check its quota', async () => {
    healthyAccount();
    rds
      .on(DescribeDBProxiesCommand)
      .resolves({ DBProxies: Array.from({ length: DEFAULT_PROXY_QUOTA }, () => ({})) });
    const proxy = result((await runPreflight(clients(), withProxy)).results, /RDS Proxy/);
    expect(proxy.ok).toBe(false);
    expect(proxy.message).toMatch(
      /already has 20 RDS Proxies in eu-west-1.*service-quotas list-service-quotas --service-code rds.*-c proxy=false/
    );
  });

  test('a region where the RDS Proxy API does not answer fails, naming the documentation', async () => {
    healthyAccount();
    rds
      .on(DescribeDBProxiesCommand)
      .rejects(Object.assign(new Error('not available in this region'), { name: 'InvalidAction' }));
    const proxy = result((await runPreflight(clients(), withProxy)).results, /RDS Proxy/);
    expect(proxy.ok).toBe(false);
    expect(proxy.message).toMatch(/RDS Proxy does not answer in eu-west-1 \(InvalidAction/);
  });

  test('the template names its proxies and their engine family', () => {
    const template = {
      Resources: {
        ProxyABCD1234: { Type: 'AWS::RDS::DBProxy', Properties: { EngineFamily: 'MYSQL' } },
      },
    };
    expect(factsFromTemplate('s', template, facts.bootstrap).proxies).toEqual([
      { id: 'ProxyABCD1234', engineFamily: 'MYSQL' },
    ]);
  });
});

describe('what preflight checks comes from the synthesized stage', () => {
  let sandbox: StageFacts;

  test('the sandbox template gives the reserved concurrencies, the database and the bootstrap version', () => {
    sandbox = synthesizeStage({ stage: 'sandbox' });
    expect(sandbox.stackName).toBe('LambdaRdsMysql-sandbox');
    expect(sandbox.reservations.map((r) => r.id).sort()).toEqual([
      'FunctionsReaderFunction',
      'FunctionsWriterFunction',
      'SchemaMigrationMigrationFunction',
    ]);
    expect(sandbox.reservations.every((r) => Number.isInteger(r.reserved) && r.reserved > 0)).toBe(
      true
    );
    expect(sandbox.databases).toEqual([
      expect.objectContaining({
        engine: 'mysql',
        engineVersion: expect.stringMatching(/^8\.4(\.\d+)?$/),
        instanceClass: `db.${STAGES.sandbox.instanceType}`,
        multiAz: STAGES.sandbox.multiAz,
        storageType: 'gp3',
      }),
    ]);
    expect(sandbox.bootstrap).toEqual({
      parameter: '/cdk-bootstrap/hnb659fds/version',
      minVersion: expect.any(Number),
    });
  });

  test('-c proxy=true checks the stack with the proxy, which reserves more than plain sandbox', () => {
    const reserved = (facts: StageFacts) => facts.reservations.reduce((n, r) => n + r.reserved, 0);
    const withProxy = synthesizeStage({ stage: 'sandbox', proxy: 'true' });
    expect(reserved(withProxy)).toBeGreaterThan(reserved(sandbox));
  });
});

function fn(PhysicalResourceId: string, ResourceStatus = 'UPDATE_COMPLETE') {
  return { ResourceType: 'AWS::Lambda::Function', PhysicalResourceId, ResourceStatus } as never;
}

describe('npm run preflight on a stack that runs read replicas: engine versions', () => {
  const withReplica = (primary: string, replica: string): StageFacts => ({
    ...facts,
    databases: [
      { ...facts.databases[0], id: 'DatabaseInstanceAA8A5FDE', engineVersion: primary },
      {
        ...facts.databases[0],
        id: 'ReadReplicasReplica1B2C3D4E5',
        engineVersion: replica,
        replica: true,
      },
    ],
  });
  /** The stack as deployed: its two instances and the versions RDS reports for them. */
  function running(primary: string, replica: string) {
    healthyAccount();
    cfn.on(ListStackResourcesCommand).resolves({
      StackResourceSummaries: [
        {
          LogicalResourceId: 'DatabaseInstanceAA8A5FDE',
          PhysicalResourceId: 'db-primary',
          ResourceType: 'AWS::RDS::DBInstance',
        } as never,
        {
          LogicalResourceId: 'ReadReplicasReplica1B2C3D4E5',
          PhysicalResourceId: 'db-replica-1',
          ResourceType: 'AWS::RDS::DBInstance',
        } as never,
      ],
    });
    rds
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'db-primary' })
      .resolves({ DBInstances: [{ EngineVersion: primary }] })
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'db-replica-1' })
      .resolves({ DBInstances: [{ EngineVersion: replica }] });
  }
  const versions = async (deploy: StageFacts) =>
    result((await runPreflight(clients(), deploy)).results, /Engine versions/);

  test('step 1 of an upgrade (replicas to the new minor, primary unchanged) passes', async () => {
    running('8.4.10', '8.4.10');
    expect(await versions(withReplica('8.4.10', '8.4.11'))).toMatchObject({ ok: true });
  });

  test('step 2 (the primary catches up with replicas that already run it) passes', async () => {
    running('8.4.10', '8.4.11');
    expect(await versions(withReplica('8.4.11', '8.4.11'))).toMatchObject({ ok: true });
  });

  test('a deploy between the steps without replicaEngineVersion fails, saying what to put in cdk.json', async () => {
    running('8.4.10', '8.4.11');
    const check = await versions(withReplica('8.4.10', '8.4.10'));
    expect(check.ok).toBe(false);
    expect(check.message).toMatch(
      /ReadReplicasReplica1\w+ runs 8\.4\.11, and this deploy asks for 8\.4\.10/
    );
    expect(check.message).toMatch(/"replicaEngineVersion": "8\.4\.11" in cdk\.json/);
  });

  test('moving the primary before its replicas fails, even when the replicas move in the same deploy', async () => {
    running('8.4.10', '8.4.10');
    const check = await versions(withReplica('8.4.11', '8.4.11'));
    expect(check.ok).toBe(false);
    expect(check.message).toMatch(
      /primary would move to 8\.4\.11 while a read replica still runs 8\.4\.10/
    );
    expect(check.message).toMatch(/Upgrade the replicas first/);
  });

  test('the primary is told from the replicas by SourceDBInstanceIdentifier, not by template order', async () => {
    running('8.4.10', '8.4.10');
    const [primary, replica] = withReplica('8.4.11', '8.4.10').databases;
    const check = await versions({ ...facts, databases: [replica, primary] });
    expect(check.message).toMatch(/primary would move to 8\.4\.11/);
  });

  test('versions compare by number, with a suffix ignored', () => {
    expect(compareVersions('8.4.9', '8.4.10')).toBeLessThan(0);
    expect(compareVersions('5.7.44-rds.20240529', '5.7.44')).toBe(0);
  });

  test('a stack not deployed yet has nothing to compare', async () => {
    healthyAccount();
    expect(await versions(withReplica('8.4.10', '8.4.10'))).toMatchObject({ ok: true });
  });
});
