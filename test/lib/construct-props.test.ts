import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { DataFunction } from '../../lib/data-function';
import { checkDeclarations, DataFunctionDeclaration } from '../../lib/data-function-declaration';
import { DATA_FUNCTIONS } from '../../lib/declared-functions';
import { Database } from '../../lib/database';
import { Monitoring } from '../../lib/monitoring';
import { Network } from '../../lib/network';
import { synthesize, testApp } from './synthesize';

// Each construct rejects a bad prop in its constructor, with the bad value and the fix.
function newStack(): Stack {
  return new Stack(testApp({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
}

function databaseWith(props: Partial<ConstructorParameters<typeof Database>[2]>) {
  const stack = newStack();
  const network = new Network(stack, 'Network');
  return new Database(stack, 'Database', {
    vpc: network.vpc,
    vpcSubnets: network.isolatedSubnets,
    secretsManagerEndpoint: network.secretsManagerEndpoint,
    maxConnections: 85,
    ...props,
  });
}

test('Database fails when the idle timeout is above 15 minutes or below one', () => {
  expect(() => databaseWith({ idleTimeoutSeconds: 28_800 })).toThrow(
    /idleTimeoutSeconds must be a whole number from 60 to 900, got 28800/
  );
  expect(() => databaseWith({ idleTimeoutSeconds: 30 })).toThrow(/from 60 to 900, got 30/);
  expect(() => databaseWith({ idleTimeoutSeconds: 600 })).not.toThrow();
});

test('Database fails when maxConnections is not a sensible whole number', () => {
  expect(() => databaseWith({ maxConnections: 2.5 })).toThrow(
    /maxConnections must be a whole number of at least 10, got 2.5/
  );
});

test('Database fails when the instance identifier is not a valid RDS identifier', () => {
  expect(() => databaseWith({ instanceIdentifier: '1-bad--name' })).toThrow(
    /is not a valid RDS identifier/
  );
});

test('Network fails when the endpoint would span more AZs than the VPC has', () => {
  expect(() => new Network(newStack(), 'Network', { maxAzs: 2, secretsEndpointAzs: 3 })).toThrow(
    /secretsEndpointAzs must be a whole number from 1 to maxAzs \(2\), got 3/
  );
});

test('DataFunction fails when reserved concurrency is below one', () => {
  const stack = newStack();
  const vpc = new ec2.Vpc(stack, 'Vpc');
  expect(
    () =>
      new DataFunction(stack, 'Fn', {
        entry: path.join(__dirname, '..', '..', 'lambda', 'reader.ts'),
        description: 'test',
        vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        reservedConcurrency: 0,
      })
  ).toThrow(/reservedConcurrency must be a whole number of at least 1, got 0/);
});

describe('Monitoring', () => {
  function monitoringWith(props: Partial<ConstructorParameters<typeof Monitoring>[2]>) {
    const stack = newStack();
    const instance = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Db', {
      instanceIdentifier: 'db',
      instanceEndpointAddress: 'db.example.com',
      port: 3306,
      securityGroups: [],
    });
    return new Monitoring(stack, 'Monitoring', {
      instance,
      maxConnections: 85,
      healthyPeakConnections: 67,
      connectionAlarmThreshold: 68,
      instanceMemoryMiB: 1024,
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 50,
      functions: [],
      ...props,
    });
  }

  test('fails when the alarm threshold is above max_connections', () => {
    expect(() => monitoringWith({ connectionAlarmThreshold: 86 })).toThrow(
      /between 1 and maxConnections \(85\), got 86/
    );
  });

  test('fails when the alarm threshold would fire at the healthy peak', () => {
    expect(() => monitoringWith({ connectionAlarmThreshold: 67 })).toThrow(
      /connectionAlarmThreshold \(67\) must be above the healthy peak \(67 connections\)/
    );
  });

  test('fails when the alarm e-mail is not an address', () => {
    expect(() => monitoringWith({ alarmEmail: 'ops' })).toThrow(
      /alarmEmail "ops" is not an e-mail address/
    );
  });
});

describe('data function declarations', () => {
  const base = DATA_FUNCTIONS[0];

  test.each([
    ['a name that is no lower-case words', [{ ...base, name: 'Order_Writer' }], /lower-case words/],
    ['a name declared twice', [base, base], /declared twice/],
    ['a share of zero', [{ ...base, connectionShare: 0 }], /connectionShare must be a positive/],
    ['no grants', [{ ...base, grants: [] }], /has no grants/],
    [
      'a grant on a name that would need quoting',
      [{ ...base, grants: [{ privileges: ['SELECT'], table: 'users; DROP' }] }],
      /plain lower-case object name/,
    ],
    ['an empty list', [], /at least one data function/],
  ])('fails on %s', (_what, functions, message) => {
    expect(() => checkDeclarations(functions as DataFunctionDeclaration[])).toThrow(message);
  });

  test("fails when the migration's user list would not fit Lambda's 4 KB of environment variables", () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ ...base, name: `writer-${i}` }));
    expect(() => synthesize('sandbox', { declared: { functions: many } })).toThrow(
      /would not fit Lambda's 4 KB of environment variables/
    );
  });
});
