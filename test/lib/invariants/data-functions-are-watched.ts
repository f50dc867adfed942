import { CfnElement, Stack } from 'aws-cdk-lib';
import { TemplateGraph } from '../template-graph';
import { Invariant } from './invariant';

/** Alarms every declared data function has, by metric (lib/function-alarms.ts). */
const FUNCTION_ALARM_METRICS = ['Throttles', 'Failures', 'RefusedLogins'];

/**
 * Every declared data function (stack.functions, from lib/declared-functions.ts) is on the
 * dashboard and has its alarms, whatever the list holds: a function added to a fork is watched
 * without anyone listing it again.
 */
export const invariant: Invariant = {
  name: 'every declared data function has its alarms and its dashboard widgets',
  check: ({ stack, template }) => {
    const graph = new TemplateGraph(template);
    const alarms = graph.ofType('AWS::CloudWatch::Alarm');
    const dashboards = graph
      .ofType('AWS::CloudWatch::Dashboard')
      .map(([, d]) => JSON.stringify(d.Properties.DashboardBody));
    const problems: string[] = [];
    for (const { declaration, dataFunction } of stack.functions.functions) {
      const id = Stack.of(stack).resolve(
        Stack.of(stack).getLogicalId(dataFunction.function.node.defaultChild as CfnElement)
      ) as string;
      for (const metric of FUNCTION_ALARM_METRICS) {
        const watched = alarms.some(
          ([, a]) =>
            a.Properties.MetricName === metric &&
            (a.Properties.Dimensions ?? []).some(
              (d: { Name: string; Value: unknown }) =>
                d.Name === 'FunctionName' && JSON.stringify(d.Value) === JSON.stringify({ Ref: id })
            )
        );
        if (!watched) problems.push(`${declaration.name} (${id}) has no ${metric} alarm`);
      }
      if (!dashboards.some((body) => body.includes(`"Ref":"${id}"`))) {
        problems.push(`${declaration.name} (${id}) is on no dashboard`);
      }
    }
    return problems;
  },
};
