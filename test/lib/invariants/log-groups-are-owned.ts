import { Json, referencedIds, TemplateGraph } from '../template-graph';
import { Invariant } from './invariant';

/** The name a service gives its log group, `<prefix><name><suffix>`, in both template forms. */
function expectedNames(prefix: string, name: Json, suffix = ''): string[] {
  const forms = [JSON.stringify({ 'Fn::Join': ['', [prefix, name, ...(suffix ? [suffix] : [])]] })];
  if (typeof name === 'string') forms.push(JSON.stringify(`${prefix}${name}${suffix}`));
  return forms;
}

/**
 * Each writer of logs in the template, with the log group it writes to:
 * - a Lambda function: its LoggingConfig.LogGroup, else /aws/lambda/<FunctionName>
 *   (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html);
 * - a hosted rotation application: /aws/lambda/<its functionName parameter>;
 * - an RDS Proxy: /aws/rds/proxy/<DBProxyName>
 *   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.troubleshooting.html);
 * - a DB instance: /aws/rds/instance/<identifier>/<log> for each exported log
 *   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html).
 * `undefined` as the group means the writer names none the stack could own (a generated name).
 */
function writers(graph: TemplateGraph): { writer: string; groups: (string | string[])[] }[] {
  const result: { writer: string; groups: (string | string[])[] }[] = [];
  for (const [id, r] of Object.entries(graph.resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::Lambda::Function') {
      const configured = [...referencedIds(p.LoggingConfig?.LogGroup ?? null)];
      if (configured.length > 0) result.push({ writer: id, groups: configured });
      else if (p.FunctionName)
        result.push({ writer: id, groups: [expectedNames('/aws/lambda/', p.FunctionName)] });
      else result.push({ writer: id, groups: [] });
    } else if (r.Type === 'AWS::Serverless::Application' && p.Parameters?.functionName) {
      result.push({
        writer: id,
        groups: [expectedNames('/aws/lambda/', p.Parameters.functionName)],
      });
    } else if (r.Type === 'AWS::RDS::DBProxy') {
      result.push({
        writer: id,
        groups: p.DBProxyName ? [expectedNames('/aws/rds/proxy/', p.DBProxyName)] : [],
      });
    } else if (r.Type === 'AWS::RDS::DBInstance' && p.EnableCloudwatchLogsExports?.length) {
      result.push({
        writer: id,
        groups: p.DBInstanceIdentifier
          ? p.EnableCloudwatchLogsExports.map((log: string) =>
              expectedNames('/aws/rds/instance/', p.DBInstanceIdentifier, `/${log}`)
            )
          : [],
      });
    }
  }
  return result;
}

/**
 * A log group a service creates by itself keeps its logs forever and outlives `cdk destroy`.
 * Every group the stack's resources write to is a stack resource with the stage's retention,
 * created before its writer.
 */
export const invariant: Invariant = {
  name: "every log group the stack's resources write to is owned by the stack, with the stage's retention, and created before its writer",
  check: ({ template, config }) => {
    const graph = new TemplateGraph(template);
    const logGroups = graph.ofType('AWS::Logs::LogGroup');
    const problems: string[] = [];
    for (const { writer, groups } of writers(graph)) {
      if (groups.length === 0) {
        problems.push(
          `${writer} (${graph.resources[writer].Type}) writes to a log group the stack cannot name: ` +
            'give it a log group of the stack (a Lambda LoggingConfig.LogGroup) or a per-incarnation name'
        );
        continue;
      }
      const before = graph.createdBefore(writer);
      for (const group of groups) {
        const found = logGroups.find(([id, lg]) =>
          typeof group === 'string'
            ? id === group
            : group.includes(JSON.stringify(lg.Properties?.LogGroupName))
        );
        if (!found) {
          problems.push(
            `${writer} writes to ${typeof group === 'string' ? group : group[group.length - 1]}, which no AWS::Logs::LogGroup of the stack creates`
          );
          continue;
        }
        const [groupId, logGroup] = found;
        if (!before.has(groupId)) {
          problems.push(
            `${writer} may write before its log group ${groupId} exists: make it depend on it`
          );
        }
        if (logGroup.Properties.RetentionInDays !== config.logRetention) {
          problems.push(
            `${groupId} keeps ${logGroup.Properties.RetentionInDays} days, not the stage's logRetention (${config.logRetention})`
          );
        }
      }
    }
    return problems;
  },
};
