import { Stack } from 'aws-cdk-lib';
import { testApp } from './synthesize';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { MYSQL_ENGINE_VERSION } from '../../lib/database';
import { ReadReplicas, ReadReplicasProps } from '../../lib/read-replicas';
import { STAGES, withReplicaEngineVersion } from '../../lib/stage-config';
import { dependsOn } from './template-facts';

// GIVEN a primary on 8.4.10 and its replicas, built with the ReadReplicas construct alone (no
// full stack synthesis: the invariants already cover every configuration).
function replicasWith(props: Partial<ReadReplicasProps>) {
  const stack = new Stack(testApp(), 'Test');
  const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0 });
  const engine = rds.DatabaseInstanceEngine.mysql({
    version: rds.MysqlEngineVersion.of('8.4.10', '8.4'),
  });
  const parameterGroup = new rds.ParameterGroup(stack, 'Params', { engine });
  const source = new rds.DatabaseInstance(stack, 'Primary', {
    engine,
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    parameterGroup,
    autoMinorVersionUpgrade: false,
  });
  new ReadReplicas(stack, 'Replicas', {
    source,
    count: 2,
    instanceType: new ec2.InstanceType('t4g.micro'),
    parameterGroup,
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    sourceEngineVersion: '8.4.10',
    autoMinorVersionUpgrade: false,
    maxAllocatedStorageGiB: 50,
    ...props,
  });
  return Template.fromStack(stack);
}

const instances = (template: Template) =>
  Object.entries(template.findResources('AWS::RDS::DBInstance')).map(([id, r]) => ({
    id,
    version: r.Properties.EngineVersion,
    replica: r.Properties.SourceDBInstanceIdentifier !== undefined,
  }));

describe('engine upgrades with read replicas (docs/upgrades.md)', () => {
  test("replicas run the primary's version by default, so bumping MYSQL_ENGINE_VERSION upgrades them too", () => {
    const all = instances(replicasWith({}));
    expect(all.map((i) => i.version)).toEqual(['8.4.10', '8.4.10', '8.4.10']);
  });

  test('CloudFormation updates a replica only after its primary: the replicas-first step needs its own deploy', () => {
    const template = replicasWith({});
    const primary = instances(template).find((i) => !i.replica)!;
    for (const replica of instances(template).filter((i) => i.replica)) {
      expect(dependsOn(template, replica.id, primary.id)).toBe(true);
      expect(dependsOn(template, primary.id, replica.id)).toBe(false);
    }
  });

  test('step 1 (-c replicaEngineVersion): the replicas move to the new minor, the primary stays', () => {
    const all = instances(replicasWith({ engineVersion: '8.4.11' }));
    expect(all.filter((i) => i.replica).map((i) => i.version)).toEqual(['8.4.11', '8.4.11']);
    expect(all.find((i) => !i.replica)!.version).toBe('8.4.10');
  });

  test('refuses replicas older than the primary, or on another major version', () => {
    expect(() => replicasWith({ engineVersion: '8.4.9' })).toThrow(
      /cannot run 8\.4\.9 next to a primary on 8\.4\.10/
    );
    expect(() => replicasWith({ engineVersion: '9.0.1' })).toThrow(/docs\/upgrades\.md/);
  });

  test('-c replicaEngineVersion takes a full version and names the mistake otherwise', () => {
    expect(withReplicaEngineVersion(STAGES.prod, '8.4.11').replicaEngineVersion).toBe('8.4.11');
    expect(withReplicaEngineVersion(STAGES.prod, undefined).replicaEngineVersion).toBeUndefined();
    expect(() => withReplicaEngineVersion(STAGES.prod, '8.4')).toThrow(
      /not a full MySQL version.*-c replicaEngineVersion=8\.4\.11/
    );
    expect(MYSQL_ENGINE_VERSION).toMatch(/^8\.4\.\d+$/);
  });
});
