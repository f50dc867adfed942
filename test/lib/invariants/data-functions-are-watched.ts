import { declaredFunctionIds } from '../declared';
import { TemplateGraph } from '../template-graph';
import { Invariant } from './invariant';

/**
 * Alarms every declared data function has, by metric (lib/function-alarms.ts). Its Failures and
 * RefusedLogins alarms, with their actions, are data-functions-alarm-on-own-failures.ts's.
 */
const FUNCTION_ALARM_METRICS = ['Throttles'];

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
    for (const { name, id } of declaredFunctionIds(stack)) {
      for (const metric of FUNCTION_ALARM_METRICS) {
        const watched = alarms.some(
          ([, a]) =>
            a.Properties.MetricName === metric &&
            (a.Properties.Dimensions ?? []).some(
              (d: { Name: string; Value: unknown }) =>
                d.Name === 'FunctionName' && JSON.stringify(d.Value) === JSON.stringify({ Ref: id })
            )
        );
        if (!watched) problems.push(`${name} (${id}) has no ${metric} alarm`);
      }
      if (!dashboards.some((body) => body.includes(`"Ref":"${id}"`))) {
        problems.push(`${name} (${id}) is on no dashboard`);
      }
    }
    return problems;
  },
};
