import { FAILURE_METRIC, METRICS_NAMESPACE } from '../../../lambda/lib/metrics';
import { declaredFunctionIds } from '../declared';
import { referencesIn } from '../template-facts';
import { resourcesOf } from '../synthesize';
import { Invariant } from './invariant';

/**
 * Every data function pages on failures that are the stack's own and on refused logins, on the
 * alarm topic, and nothing pages on what an invoker sends: no alarm watches Lambda's Errors
 * (which counts rejected events) or the RejectedEvents count (lib/function-alarms.ts).
 */
export const invariant: Invariant = {
  name: "every data function alarms on its own failures and on refused logins, and no alarm fires on an invoker's bad event",
  check: ({ stack, template }) => {
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm');
    const on = (fnId: string, namespace: string, metricName: string) =>
      alarms.filter(
        ([, a]) =>
          a.Properties.Namespace === namespace &&
          a.Properties.MetricName === metricName &&
          (a.Properties.Dimensions ?? []).some(
            (d: { Name: string; Value: unknown }) =>
              d.Name === 'FunctionName' && referencesIn(d.Value).has(fnId)
          )
      );
    return declaredFunctionIds(stack).flatMap(({ id }) => {
      const problems: string[] = [];
      for (const metric of [FAILURE_METRIC.failures, FAILURE_METRIC.refusedLogins]) {
        const found = on(id, METRICS_NAMESPACE, metric);
        if (!found.some(([, a]) => (a.Properties.AlarmActions ?? []).length > 0)) {
          problems.push(`${id} has no alarm with an action on ${METRICS_NAMESPACE} ${metric}`);
        }
      }
      for (const [alarmId] of [
        ...on(id, 'AWS/Lambda', 'Errors'),
        ...on(id, METRICS_NAMESPACE, FAILURE_METRIC.rejectedEvents),
      ]) {
        problems.push(
          `${alarmId} fires on ${id}'s failed invocations including rejected events: any invoker can page with bad input`
        );
      }
      return problems;
    });
  },
};
