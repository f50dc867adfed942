import { reservedConnections } from '../../lib/connection-budget';
import { Template } from 'aws-cdk-lib/assertions';
import { CfnResource, resourcesOf } from './synthesize';

/**
 * Facts read from a synthesized template, shared by the invariants in invariants/: who connects
 * to which DB instance, what depends on what. Plain CloudFormation, so a check sees what
 * CloudFormation will do, whatever construct produced it.
 */

type Resources = Record<string, CfnResource & { DependsOn?: string | string[] }>;

function resources(template: Template): Resources {
  return template.toJSON().Resources as Resources;
}

/** Logical ids a value points at through Ref or Fn::GetAtt (pseudo parameters left out). */
export function referencesIn(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    value.forEach((item) => referencesIn(item, found));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string' && !inner.startsWith('AWS::')) {
        found.add(inner);
      } else if (key === 'Fn::GetAtt' && Array.isArray(inner)) {
        found.add(String(inner[0]));
      } else {
        referencesIn(inner, found);
      }
    }
  }
  return found;
}

/**
 * What CloudFormation orders a resource after: its DependsOn, and every resource its properties
 * Ref or GetAtt ("Resource B is updated before resource A",
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html).
 */
export function directDependencies(template: Template, id: string): Set<string> {
  const resource = resources(template)[id];
  const dependsOn = resource.DependsOn ?? [];
  return new Set([
    ...(Array.isArray(dependsOn) ? dependsOn : [dependsOn]),
    ...referencesIn(resource.Properties ?? {}),
  ]);
}

/** Whether `from` is created and updated after `to`, directly or through other resources. */
export function dependsOn(template: Template, from: string, to: string): boolean {
  const seen = new Set<string>();
  const queue = [from];
  while (queue.length > 0) {
    const id = queue.pop()!;
    for (const next of directDependencies(template, id)) {
      if (next === to) return true;
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return false;
}

export interface DbInstances {
  readonly primary: [string, CfnResource];
  readonly replicas: [string, CfnResource][];
}

export function dbInstances(template: Template): DbInstances {
  const all = resourcesOf(template, 'AWS::RDS::DBInstance');
  const primaries = all.filter(([, r]) => !r.Properties.SourceDBInstanceIdentifier);
  if (primaries.length !== 1) {
    throw new Error(`expected one primary DB instance, found ${primaries.length}`);
  }
  return {
    primary: primaries[0],
    replicas: all.filter(([, r]) => r.Properties.SourceDBInstanceIdentifier),
  };
}

/** `max_connections` the instance's parameter group pins, or undefined (RDS's default). */
export function maxConnectionsOf(template: Template, instance: CfnResource): number | undefined {
  const [groupId] = referencesIn(instance.Properties.DBParameterGroupName ?? {});
  const group = groupId ? resources(template)[groupId] : undefined;
  const value = group?.Properties.Parameters?.max_connections;
  return value === undefined ? undefined : Number(value);
}

/** Lambda functions, with their environment variables. */
export function functionsOf(template: Template) {
  return resourcesOf(template, 'AWS::Lambda::Function').map(([id, fn]) => ({
    id,
    fn,
    env: (fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>,
  }));
}

/**
 * Everything that connects to each DB instance, from the template: the proxy's pool, functions
 * that connect directly (their reserved concurrency: one connection per execution
 * environment), the rotation function, and the reader on the replicas it is given.
 */
export interface InstanceLoad {
  readonly id: string;
  readonly maxConnections: number | undefined;
  /** Server connections of proxies targeting the instance (MaxConnectionsPercent of max). */
  readonly proxyPool: number;
  /** Functions connecting directly: [logical id, reserved concurrency or undefined]. */
  readonly directFunctions: [string, number | undefined][];
  /** Rotated secrets: one connection each at a time. */
  readonly rotations: number;
  /**
   * Connections of init preparations outside the functions' concurrency (environments Lambda
   * starts ahead of a request, lambda/lib/init-preparation.ts): the budget's reserve for them
   * when a function connects directly, else 0 (through a proxy they are the pool's).
   */
  readonly initPreparations: number;
  /** The healthy peak: pool + direct functions + rotations + init preparations. */
  readonly peak: number;
}

export function instanceLoads(template: Template): InstanceLoad[] {
  const { primary, replicas } = dbInstances(template);
  const functions = functionsOf(template);
  const [primaryId, primaryResource] = primary;
  const primaryMax = maxConnectionsOf(template, primaryResource);

  const proxyPool = resourcesOf(template, 'AWS::RDS::DBProxyTargetGroup')
    .filter(([, group]) => referencesIn(group.Properties.DBInstanceIdentifiers).has(primaryId))
    .reduce((sum, [, group]) => {
      const percent =
        group.Properties.ConnectionPoolConfigurationInfo?.MaxConnectionsPercent ?? 100;
      return sum + Math.floor(((primaryMax ?? 0) * percent) / 100);
    }, 0);
  // A function with a database secret and no proxy host connects to the primary directly (the
  // secret's host); with DB_PROXY_HOST its primary connections are the proxy's.
  const directToPrimary = functions
    .filter(({ env }) => env.DB_SECRET_ARN !== undefined && env.DB_PROXY_HOST === undefined)
    .map(({ id, fn }): [string, number | undefined] => [
      id,
      fn.Properties.ReservedConcurrentExecutions,
    ]);
  // Rotation connects to the secret's host, the primary, proxy or not: one connection per
  // rotated secret at a time (Secrets Manager rotates a secret once at a time, step by step).
  const rotations = resourcesOf(template, 'AWS::SecretsManager::RotationSchedule').length;
  const sum = (list: [string, number | undefined][]) =>
    list.reduce((total, [, n]) => total + (n ?? Number.POSITIVE_INFINITY), 0);
  const preparations = (list: unknown[]) =>
    list.length > 0 ? reservedConnections(0).initPreparation : 0;

  const loads: InstanceLoad[] = [
    {
      id: primaryId,
      maxConnections: primaryMax,
      proxyPool,
      directFunctions: directToPrimary,
      rotations,
      // Behind a proxy the functions prepare through it: the pool holds their preparations.
      initPreparations: proxyPool > 0 ? 0 : preparations(directToPrimary),
      peak:
        proxyPool +
        sum(directToPrimary) +
        rotations +
        (proxyPool > 0 ? 0 : preparations(directToPrimary)),
    },
  ];
  for (const [replicaId, replica] of replicas) {
    // The reader reaches replicas directly, proxy or not.
    const readers = functions
      .filter(({ env }) => referencesIn(env.DB_REPLICA_HOSTS ?? {}).has(replicaId))
      .map(({ id, fn }): [string, number | undefined] => [
        id,
        fn.Properties.ReservedConcurrentExecutions,
      ]);
    loads.push({
      id: replicaId,
      maxConnections: maxConnectionsOf(template, replica),
      proxyPool: 0,
      directFunctions: readers,
      rotations: 0,
      initPreparations: preparations(readers),
      peak: sum(readers) + preparations(readers),
    });
  }
  return loads;
}

/** CloudWatch alarms on an AWS/RDS metric of one DB instance. */
export function instanceAlarms(template: Template, instanceId: string, metricName: string) {
  return resourcesOf(template, 'AWS::CloudWatch::Alarm').filter(
    ([, alarm]) =>
      alarm.Properties.Namespace === 'AWS/RDS' &&
      alarm.Properties.MetricName === metricName &&
      (alarm.Properties.Dimensions ?? []).some(
        (d: { Name: string; Value: unknown }) =>
          d.Name === 'DBInstanceIdentifier' && referencesIn(d.Value).has(instanceId)
      )
  );
}
