import { Json, referencedIds, TemplateGraph } from '../template-graph';
import { Invariant } from './invariant';

/** Resources that run code against the network while CloudFormation creates or updates them. */
const CALLER_TYPES = (type: string) =>
  type.startsWith('Custom::') ||
  type === 'AWS::CloudFormation::CustomResource' ||
  // A schedule rotates when created, or with RotateImmediatelyOnUpdate false (ours) runs testSecret:
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-rotationschedule.html
  type === 'AWS::SecretsManager::RotationSchedule';

/**
 * The security groups of the functions a caller runs: a custom resource's service token (and the
 * functions the provider framework's function names in its environment), a rotation schedule's
 * function, or a hosted rotation application's `vpcSecurityGroupIds`.
 */
function callerSecurityGroups(graph: TemplateGraph, caller: Json): Set<string> {
  const entry =
    caller.Type === 'AWS::SecretsManager::RotationSchedule'
      ? caller.Properties.RotationLambdaARN
      : caller.Properties.ServiceToken;
  const groups = new Set<string>();
  const seen = new Set<string>();
  const queue = [...referencedIds(entry)];
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const resource = graph.resources[id];
    if (resource?.Type === 'AWS::Lambda::Function') {
      referencedIds(resource.Properties.VpcConfig?.SecurityGroupIds ?? []).forEach((g) =>
        groups.add(g)
      );
      queue.push(...referencedIds(resource.Properties.Environment ?? {}));
    } else if (resource?.Type === 'AWS::Serverless::Application') {
      referencedIds(resource.Properties.Parameters?.vpcSecurityGroupIds ?? []).forEach((g) =>
        groups.add(g)
      );
    }
  }
  return groups;
}

/**
 * The network path of a function behind `groups`: its own egress rules, the ingress rules that
 * admit it elsewhere, and the VPC endpoints those rules open (the Secrets Manager endpoint).
 */
function networkPath(graph: TemplateGraph, groups: Set<string>): string[] {
  const refersTo = (value: Json) => [...referencedIds(value)].some((id) => groups.has(id));
  const egress = graph
    .ofType('AWS::EC2::SecurityGroupEgress')
    .filter(([, r]) => refersTo(r.Properties.GroupId));
  const ingress = graph
    .ofType('AWS::EC2::SecurityGroupIngress')
    .filter(([, r]) => refersTo(r.Properties.SourceSecurityGroupId));
  const openedGroups = new Set(
    ingress.flatMap(([, r]) => [...referencedIds(r.Properties.GroupId)])
  );
  const endpoints = graph
    .ofType('AWS::EC2::VPCEndpoint')
    .filter(([, r]) =>
      [...referencedIds(r.Properties.SecurityGroupIds ?? [])].some((g) => openedGroups.has(g))
    );
  return [...egress, ...ingress, ...endpoints].map(([id]) => id);
}

/**
 * A rule created in parallel with a caller can come too late: the call times out, the create
 * fails and the stack rolls back. A DependsOn (or a reference) orders them
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html).
 */
export const invariant: Invariant = {
  name: 'everything that calls out at deploy time waits for its whole network path',
  check: ({ template }) => {
    const graph = new TemplateGraph(template);
    const problems: string[] = [];
    for (const [id, caller] of Object.entries(graph.resources)) {
      if (!CALLER_TYPES(caller.Type)) continue;
      const groups = callerSecurityGroups(graph, caller);
      if (groups.size === 0) continue; // runs outside the VPC
      const before = graph.createdBefore(id);
      for (const needed of networkPath(graph, groups)) {
        if (!before.has(needed)) {
          problems.push(
            `${id} (${caller.Type}) may run before ${needed} (${graph.resources[needed].Type}) exists: ` +
              'add it (or its construct) with node.addDependency()'
          );
        }
      }
    }
    return problems;
  },
};
