import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { STAGES, withReadReplicas } from '../../lib/stage-config';
import { functionOf } from './declared';
import { CfnResource, resourcesOf, synthesize } from './synthesize';

// GIVEN each stage with its own readReplicas setting and with the other one (-c readReplicas=N).
interface Case {
  stage: string;
  context: Record<string, string>;
  replicas: number;
}
const cases: Case[] = [
  { stage: 'sandbox', context: {}, replicas: 0 },
  { stage: 'sandbox', context: { readReplicas: '1' }, replicas: 1 },
  { stage: 'prod', context: {}, replicas: 1 },
  { stage: 'prod', context: { readReplicas: '0' }, replicas: 0 },
];
const synthesized = new Map<string, { template: Template; outdir: string }>();
beforeAll(() => {
  for (const c of cases) {
    synthesized.set(key(c), synthesize(c.stage, { context: c.context }));
  }
});
function key(c: Case) {
  return `${c.stage} ${JSON.stringify(c.context)}`;
}

const replicasOf = (t: Template) =>
  resourcesOf(t, 'AWS::RDS::DBInstance').filter(([, r]) => r.Properties.SourceDBInstanceIdentifier);
const primaryOf = (t: Template) =>
  resourcesOf(t, 'AWS::RDS::DBInstance').filter(
    ([, r]) => !r.Properties.SourceDBInstanceIdentifier
  );
const readerOf = (t: Template): CfnResource => functionOf(t, 'reader')[1];

describe('read replicas', () => {
  test('stages: none in sandbox, one in prod', () => {
    expect(STAGES.sandbox.readReplicas).toBe(0);
    expect(STAGES.prod.readReplicas).toBe(1);
  });

  test('-c readReplicas accepts 0 to 15 and names the mistake otherwise', () => {
    expect(withReadReplicas(STAGES.sandbox, '2').readReplicas).toBe(2);
    expect(withReadReplicas(STAGES.prod, undefined).readReplicas).toBe(1);
    for (const bad of ['x', '-1', '1.5', '16', '']) {
      expect(() => withReadReplicas(STAGES.sandbox, bad)).toThrow(/readReplicas=.*0 to 15/);
    }
  });

  test.each(cases)('$stage $context: $replicas replica(s), each a copy of the primary', (c) => {
    const { template } = synthesized.get(key(c))!;
    const replicas = replicasOf(template);
    expect(replicas).toHaveLength(c.replicas);
    const [[primaryId, primary]] = primaryOf(template);
    for (const [, replica] of replicas) {
      expect(replica.Properties).toMatchObject({
        DBInstanceClass: primary.Properties.DBInstanceClass,
        // Same parameter group: the same server bounds, TLS requirement and max_connections.
        DBParameterGroupName: primary.Properties.DBParameterGroupName,
        CACertificateIdentifier: primary.Properties.CACertificateIdentifier,
        PubliclyAccessible: false,
        AutoMinorVersionUpgrade: false,
        StorageType: 'gp3',
      });
      expect(JSON.stringify(replica.Properties.SourceDBInstanceIdentifier)).toContain(primaryId);
    }
  });

  test.each(cases)('$stage $context: the reader, and only it, reaches the replicas', (c) => {
    const { template } = synthesized.get(key(c))!;
    const env = readerOf(template).Properties.Environment.Variables;
    if (c.replicas === 0) {
      expect(env.DB_REPLICA_HOSTS).toBeUndefined();
      return;
    }
    const hosts = JSON.stringify(env.DB_REPLICA_HOSTS);
    for (const [id, replica] of replicasOf(template)) {
      expect(hosts).toContain(id);
      const groups = replica.Properties.VPCSecurityGroups.map(
        (g: { 'Fn::GetAtt': [string] }) => g['Fn::GetAtt'][0]
      );
      const ingress = resourcesOf(template, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) =>
        groups.includes(r.Properties.GroupId?.['Fn::GetAtt']?.[0])
      );
      expect(ingress).toHaveLength(1);
      expect(ingress[0][1].Properties).toMatchObject({ IpProtocol: 'tcp', FromPort: 3306 });
      expect(ingress[0][1].Properties.Description).toMatch(/Reader/);
      const readerGroup = ingress[0][1].Properties.SourceSecurityGroupId['Fn::GetAtt'][0];
      template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
        GroupId: { 'Fn::GetAtt': [readerGroup, 'GroupId'] },
        DestinationSecurityGroupId: { 'Fn::GetAtt': [groups[0], 'GroupId'] },
        FromPort: 3306,
      });
    }
  });

  test.each(cases)(
    '$stage $context: ReplicaLag and replication-stopped alarms per replica',
    (c) => {
      const { template } = synthesized.get(key(c))!;
      const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').filter(
        ([, r]) => r.Properties.MetricName === 'ReplicaLag'
      );
      expect(alarms).toHaveLength(2 * c.replicas);
      if (c.replicas > 0) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'ReplicaLag',
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          Threshold: 60,
        });
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'ReplicaLag',
          ComparisonOperator: 'LessThanThreshold',
          Threshold: 0,
        });
        const dashboard = JSON.stringify(
          resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0][1].Properties
        );
        expect(dashboard).toContain('ReplicaLag');
      }
    }
  );

  test.each(cases)('$stage $context: cdk-nag and the validation report are clean', (c) => {
    const { outdir } = synthesized.get(key(c))!;
    const report = JSON.parse(
      fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')
    ) as { pluginReports: { conclusion: string }[] };
    expect(report.pluginReports.filter((p) => p.conclusion !== 'success')).toEqual([]);
  });
});
