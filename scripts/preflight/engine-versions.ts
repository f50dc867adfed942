import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { stackResources } from './stack-resources';
import { DatabaseFacts } from './stage-facts';

/**
 * Whether the deploy's engine versions can be applied to the instances the stack runs now.
 * RDS never moves an instance to an older version, and wants read replicas upgraded before their
 * source ("same or higher than the version that the source DB instance ... is running",
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html; "you must
 * upgrade all read replicas before upgrading the source instance",
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.MySQL.html).
 * An update that asks otherwise fails in CloudFormation and rolls back: the usual cause is a
 * deploy between the two steps of an upgrade without the first step's `replicaEngineVersion`.
 */
export async function checkEngineVersions(
  clients: { cloudFormation: CloudFormationClient; rds: RDSClient },
  stackName: string,
  databases: readonly DatabaseFacts[]
): Promise<{ ok: boolean; message: string }> {
  const deployed = await deployedInstances(clients.cloudFormation, stackName);
  if (deployed.size === 0) {
    return {
      ok: true,
      message: 'the stack has no DB instance yet: every instance is created at the version asked.',
    };
  }
  const running = new Map<string, string>();
  for (const [logicalId, identifier] of deployed) {
    const { DBInstances = [] } = await clients.rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier })
    );
    const version = DBInstances[0]?.EngineVersion;
    if (version) running.set(logicalId, version);
  }
  const primary = databases.find((db) => !db.replica);
  // What the replicas run now, oldest first.
  const replicaVersions = databases
    .filter((db) => db.replica)
    .map((r) => running.get(r.id))
    .filter((v): v is string => !!v)
    .sort(compareVersions);
  const problems: string[] = [];
  let replicaAskedDown = false;
  for (const db of databases) {
    const now = running.get(db.id);
    if (now && compareVersions(db.engineVersion, now) < 0) {
      replicaAskedDown ||= db.replica === true;
      problems.push(
        `${db.id} runs ${now}, and this deploy asks for ${db.engineVersion}, which RDS refuses (no downgrades).`
      );
    }
  }
  // CloudFormation updates the primary before the replicas that reference it, so the primary
  // may only move to a version every replica already runs.
  const oldestReplica = replicaVersions[0];
  if (primary && oldestReplica && compareVersions(primary.engineVersion, oldestReplica) > 0) {
    problems.push(
      `the primary would move to ${primary.engineVersion} while a read replica still runs ${oldestReplica}: ` +
        'RDS upgrades replicas first, and CloudFormation updates the primary before its replicas.'
    );
  }
  const versions = [...running].map(([id, v]) => `${id} ${v}`).join(', ');
  if (problems.length === 0) {
    return {
      ok: true,
      message: `running ${versions}; the deploy's versions are the same or newer, replicas first.`,
    };
  }
  // A replica asked to go down means its upgrade step ran and this deploy lacks it: keep the
  // newest version a replica runs.
  const advice = replicaAskedDown
    ? `An upgrade is half done (the replicas moved first): put "replicaEngineVersion": ` +
      `"${replicaVersions[replicaVersions.length - 1]}" in cdk.json's context until MYSQL_ENGINE_VERSION reaches it.`
    : 'Upgrade the replicas first (replicaEngineVersion in cdk.json), then the primary; RDS ' +
      'never moves an instance to an older version.';
  return { ok: false, message: `${problems.join(' ')} ${advice} Both steps: docs/upgrades.md.` };
}

/** The stack's DB instances: logical id -> DB instance identifier (empty before the first deploy). */
async function deployedInstances(
  cloudFormation: CloudFormationClient,
  stackName: string
): Promise<Map<string, string>> {
  const instances = await stackResources(cloudFormation, stackName, 'AWS::RDS::DBInstance');
  return new Map(instances.map((r) => [r.LogicalResourceId!, r.PhysicalResourceId!]));
}

/** Compares dotted versions numerically: 8.4.9 < 8.4.10; a suffix (5.7.44-rds.20240529) is ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    v
      .split('-')[0]
      .split('.')
      .map((n) => parseInt(n, 10) || 0);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
