import { referencesIn, instanceAlarms, instanceLoads } from '../template-facts';
import { resourcesOf } from '../synthesize';
import { Invariant } from './invariant';

/**
 * Each DB instance's DatabaseConnections alarm fires only above what its healthy peak can
 * produce (the proxy's pool may legitimately fill up: MaxConnectionsPercent,
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-connections.html), and below
 * max_connections, where it still warns before clients are refused. Behind a proxy its text
 * must not send the on-call looking for leaks.
 */
export const invariant: Invariant = {
  name: 'DatabaseConnections alarms fire above the healthy peak and below max_connections, and do not blame leaks behind a proxy',
  check: ({ template }) => {
    const proxied = new Set(
      resourcesOf(template, 'AWS::RDS::DBProxyTargetGroup').flatMap(([, group]) => [
        ...referencesIn(group.Properties.DBInstanceIdentifiers),
      ])
    );
    return instanceLoads(template).flatMap((load) => {
      const alarms = instanceAlarms(template, load.id, 'DatabaseConnections');
      if (alarms.length === 0) return [`${load.id} has no DatabaseConnections alarm`];
      return alarms.flatMap(([alarmId, alarm]) => {
        const { Threshold: threshold, ComparisonOperator: operator } = alarm.Properties;
        const firesAt =
          operator === 'GreaterThanOrEqualToThreshold'
            ? threshold
            : operator === 'GreaterThanThreshold'
              ? threshold + 1
              : undefined;
        const problems: string[] = [];
        if (firesAt === undefined) {
          problems.push(
            `${alarmId} compares with ${operator}: it must fire on too many connections`
          );
        } else {
          if (firesAt <= load.peak) {
            problems.push(
              `${alarmId} fires at ${firesAt} connections, but a healthy peak on ${load.id} holds ${load.peak}`
            );
          }
          if (load.maxConnections !== undefined && firesAt > load.maxConnections) {
            problems.push(
              `${alarmId} fires at ${firesAt}, above max_connections ${load.maxConnections}: it can never fire`
            );
          }
        }
        const text = String(alarm.Properties.AlarmDescription ?? '');
        if (
          proxied.has(load.id) &&
          (/leak|left open|long sleep/i.test(text) || !/proxy/i.test(text))
        ) {
          problems.push(
            `${alarmId} is behind an RDS Proxy but its text blames leaked connections or does not name the proxy's pool: "${text}"`
          );
        }
        return problems;
      });
    });
  },
};
