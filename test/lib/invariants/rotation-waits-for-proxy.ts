import { referencedIds, TemplateGraph } from '../template-graph';
import { Invariant } from './invariant';

/**
 * An RDS Proxy reads the secrets in its auth list to authenticate clients and to log in to the
 * database (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-secrets-arns.html).
 * A rotation schedule of such a secret that CloudFormation may create (and so test or rotate,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-rotationschedule.html)
 * while the proxy or its target group is being created races the proxy's first read of the
 * secret: it must be ordered after both (DependsOn, or a reference).
 */
export const invariant: Invariant = {
  name: 'where there is a proxy, the rotations of the secrets it serves wait for it and its target group',
  check: ({ template }) => {
    const graph = new TemplateGraph(template);
    const problems: string[] = [];
    for (const [proxyId, proxy] of graph.ofType('AWS::RDS::DBProxy')) {
      const served = referencedIds(proxy.Properties.Auth ?? []);
      const targetGroups = graph
        .ofType('AWS::RDS::DBProxyTargetGroup')
        .filter(([, group]) => referencedIds(group.Properties.DBProxyName).has(proxyId))
        .map(([id]) => id);
      for (const [scheduleId, schedule] of graph.ofType('AWS::SecretsManager::RotationSchedule')) {
        const secrets = [...referencedIds(schedule.Properties.SecretId)];
        if (!secrets.some((secret) => served.has(secret))) continue;
        const before = graph.createdBefore(scheduleId);
        for (const needed of [proxyId, ...targetGroups]) {
          if (!before.has(needed)) {
            problems.push(
              `${scheduleId} rotates a secret ${proxyId} serves but may run before ${needed} ` +
                `(${graph.resources[needed].Type}) exists: add the proxy construct with node.addDependency()`
            );
          }
        }
      }
    }
    return problems;
  },
};
