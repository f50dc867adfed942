import { Json, referencedIds, TemplateGraph } from '../template-graph';
import { Invariant } from './invariant';

/**
 * The properties that name a resource itself, by type, for the types this stack creates or may
 * (CloudFormation generates a unique name when they are left out). A type missing here is not
 * checked: add it when the stack starts creating it.
 */
const PHYSICAL_NAMES: Record<string, string[]> = {
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::EC2::SecurityGroup': ['GroupName'],
  'AWS::Events::Rule': ['Name'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::RDS::DBInstance': ['DBInstanceIdentifier'],
  'AWS::RDS::DBParameterGroup': ['DBParameterGroupName'],
  'AWS::RDS::DBProxy': ['DBProxyName'],
  'AWS::RDS::DBSubnetGroup': ['DBSubnetGroupName'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::SNS::Topic': ['TopicName'],
};

/**
 * Whether a name is new for each resource CloudFormation creates: it contains the stack id
 * (lib/incarnation-name.ts) or the generated name of another resource of this stack.
 */
function uniquePerIncarnation(name: Json, graph: TemplateGraph): boolean {
  const text = JSON.stringify(name);
  if (text.includes('"Ref":"AWS::StackId"')) return true;
  return [...referencedIds(name)].some((id) => id in graph.resources);
}

/**
 * CloudFormation replaces a resource by creating the new one first, then deleting the old: a name
 * that stays the same across the replacement fails with "already exists"
 * (https://repost.aws/knowledge-center/cloudformation-custom-name), and a stack created again
 * meets what the earlier one retained.
 */
export const invariant: Invariant = {
  name: 'no resource has a fixed physical name that a replacement or a new incarnation would reuse',
  check: ({ template }) => {
    const graph = new TemplateGraph(template);
    const problems: string[] = [];
    for (const [id, resource] of Object.entries(graph.resources)) {
      const names: [string, Json][] = (PHYSICAL_NAMES[resource.Type] ?? []).map((property) => [
        property,
        resource.Properties?.[property],
      ]);
      // A hosted rotation application names the function of its nested stack.
      if (resource.Type === 'AWS::Serverless::Application') {
        names.push(['Parameters.functionName', resource.Properties?.Parameters?.functionName]);
      }
      for (const [property, name] of names) {
        if (name !== undefined && !uniquePerIncarnation(name, graph)) {
          problems.push(
            `${id} (${resource.Type}) has the fixed ${property} ${JSON.stringify(name)}: leave it ` +
              'out, or make it unique per stack incarnation with incarnationName() (lib/incarnation-name.ts)'
          );
        }
      }
    }
    return problems;
  },
};
