import { reservedConnections } from '../../../lib/connection-budget';
import { functionsOf, referencesIn } from '../template-facts';
import { resourcesOf } from '../synthesize';
import { Invariant } from './invariant';

/**
 * A proxy's ClientConnections alarm fires only above what the functions that connect through it
 * can hold at a healthy peak: one client connection per execution environment, so their reserved
 * concurrency, plus the budget's reserve for init preparations of environments Lambda starts
 * ahead of a request (reservedConnections(0).initPreparation, lambda/lib/init-preparation.ts). Below that it pages on every busy minute; the functions' saturation is what their
 * Throttles alarms report. Metric: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.monitoring.html
 */
export const invariant: Invariant = {
  name: "each proxy's ClientConnections alarm fires above its clients' reserved concurrency",
  check: ({ template }) => {
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').filter(
      ([, alarm]) => metricOf(alarm.Properties).MetricName === 'ClientConnections'
    );
    return resourcesOf(template, 'AWS::RDS::DBProxy').flatMap(([proxyId]) => {
      const clients = functionsOf(template).filter(({ env }) =>
        referencesIn(env.DB_PROXY_HOST ?? {}).has(proxyId)
      );
      const peak =
        clients.reduce(
          (sum, { fn }) => sum + (fn.Properties.ReservedConcurrentExecutions ?? Infinity),
          0
        ) + (clients.length > 0 ? reservedConnections(0).initPreparation : 0);
      const mine = alarms.filter(([, alarm]) =>
        (metricOf(alarm.Properties).Dimensions ?? []).some(
          (d: { Name: string; Value: unknown }) =>
            d.Name === 'ProxyName' && referencesIn(d.Value).has(proxyId)
        )
      );
      if (mine.length === 0) return [`${proxyId} has no ClientConnections alarm`];
      return mine.flatMap(([alarmId, alarm]) => {
        const { Threshold: threshold, ComparisonOperator: operator } = alarm.Properties;
        const firesAt =
          operator === 'GreaterThanThreshold'
            ? threshold + 1
            : operator === 'GreaterThanOrEqualToThreshold'
              ? threshold
              : undefined;
        if (firesAt === undefined) return [`${alarmId} compares with ${operator}`];
        return firesAt <= peak
          ? [
              `${alarmId} fires at ${firesAt} client connections, but the functions behind ${proxyId} ` +
                `hold ${peak} at a healthy peak (their reserved concurrency and an init preparation)`,
            ]
          : [];
      });
    });
  },
};

/** An alarm's metric: top-level, or the single MetricStat CDK writes when the metric has a label. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function metricOf(properties: Record<string, any>): { MetricName?: string; Dimensions?: any[] } {
  return properties.MetricName !== undefined
    ? properties
    : (properties.Metrics?.[0]?.MetricStat?.Metric ?? {});
}
