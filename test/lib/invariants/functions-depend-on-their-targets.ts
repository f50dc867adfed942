import { dependsOn, functionsOf, referencesIn } from '../template-facts';
import { resourcesOf } from '../synthesize';
import { Invariant } from './invariant';

/**
 * A function runs only after everything its environment points at works: the proxy's target
 * group (which registers the instance with the proxy; the endpoint alone orders it after the
 * AWS::RDS::DBProxy only), the replicas in DB_REPLICA_HOSTS, and every security-group rule that
 * mentions its security group or its proxy's (the direct path when there is no proxy). DependsOn,
 * Ref and GetAtt order create, update and delete alike:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbproxytargetgroup.html
 */
export const invariant: Invariant = {
  name: 'functions depend on the proxy target group, replicas and security-group rules their environment relies on',
  check: ({ template }) => {
    const targetGroups = resourcesOf(template, 'AWS::RDS::DBProxyTargetGroup');
    const proxies = Object.fromEntries(resourcesOf(template, 'AWS::RDS::DBProxy'));
    const rules = [
      ...resourcesOf(template, 'AWS::EC2::SecurityGroupIngress'),
      ...resourcesOf(template, 'AWS::EC2::SecurityGroupEgress'),
    ];
    return functionsOf(template).flatMap(({ id, fn, env }) => {
      const needed = new Map<string, string>();
      const proxyIds = [...referencesIn(env.DB_PROXY_HOST ?? {})].filter((ref) => proxies[ref]);
      for (const [groupId, group] of targetGroups) {
        if (proxyIds.some((proxyId) => referencesIn(group.Properties.DBProxyName).has(proxyId))) {
          needed.set(groupId, 'the target group of its DB_PROXY_HOST');
        }
      }
      for (const replicaId of referencesIn(env.DB_REPLICA_HOSTS ?? {})) {
        needed.set(replicaId, 'a replica of its DB_REPLICA_HOSTS');
      }
      const securityGroups = new Set([
        ...referencesIn(fn.Properties.VpcConfig?.SecurityGroupIds ?? []),
        ...proxyIds.flatMap((proxyId) => [
          ...referencesIn(proxies[proxyId].Properties.VpcSecurityGroupIds ?? []),
        ]),
      ]);
      for (const [ruleId, rule] of rules) {
        const mentioned = referencesIn([
          rule.Properties.GroupId,
          rule.Properties.SourceSecurityGroupId,
          rule.Properties.DestinationSecurityGroupId,
        ]);
        if ([...mentioned].some((group) => securityGroups.has(group))) {
          needed.set(ruleId, 'a security-group rule of its network path');
        }
      }
      return [...needed]
        .filter(([target]) => !dependsOn(template, id, target))
        .map(([target, what]) => `${id} does not depend on ${target} (${what})`);
    });
  },
};
