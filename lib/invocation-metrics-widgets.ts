import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { FAILURE_METRIC, METRIC, METRICS_NAMESPACE, START_DIMENSION } from '../lambda/lib/metrics';

/** A function as the dashboard labels it. */
export interface FunctionWithLabel {
  readonly label: string;
  readonly function: lambda.IFunction;
}

/**
 * Dashboard widgets for the metrics each invocation writes as EMF (lambda/lib/metrics.ts):
 * connect and statement time, the share of TLS handshakes resumed, secret reads and connection
 * retries, per function, so the README's benchmark figures can be compared with the account's;
 * and cold starts apart from warm invocations (the `Start` dimension), with the share of cold
 * starts whose init preparation succeeded (lambda/lib/init-preparation.ts).
 */
export function invocationMetricsWidgets(functions: FunctionWithLabel[]): cloudwatch.IWidget[] {
  return [
    new cloudwatch.TextWidget({
      markdown:
        `**Data path per invocation** (namespace \`${METRICS_NAMESPACE}\`, written by the functions). ` +
        "Compare with the README's Performance section: connect time is TCP + TLS + authentication; " +
        'TLS resumed should be ~1, also on cold starts whose init preparation succeeded.',
      width: 24,
      height: 2,
    }),
    ...functions.flatMap(({ label, function: fn }) => {
      const metric = (metricName: string, statistic: string, start?: 'cold' | 'warm') =>
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName,
          dimensionsMap: {
            FunctionName: fn.functionName,
            ...(start ? { [START_DIMENSION]: start } : {}),
          },
          statistic,
          period: Duration.minutes(1),
          label: `${start ? `${start} ` : ''}${metricName} ${statistic}`,
        });
      return [
        new cloudwatch.GraphWidget({
          title: `${label}: connect and statement time (ms)`,
          left: [
            metric(METRIC.connectTime, 'p50'),
            metric(METRIC.connectTime, 'p90'),
            metric(METRIC.statementTime, 'p50'),
            metric(METRIC.statementTime, 'p90'),
          ],
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: `${label}: share of TLS handshakes resumed`,
          left: [metric(METRIC.tlsResumed, 'Average')],
          leftYAxis: { min: 0, max: 1 },
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: `${label}: secret reads and connection retries (sum)`,
          left: [metric(METRIC.credentialFetches, 'Sum'), metric(METRIC.connectionRetries, 'Sum')],
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: `${label}: cold starts vs warm invocations, connect and statement time p50 (ms)`,
          left: (['cold', 'warm'] as const).flatMap((start) => [
            metric(METRIC.connectTime, 'p50', start),
            metric(METRIC.statementTime, 'p50', start),
          ]),
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: `${label}: cold starts (sum) and share whose init preparation succeeded`,
          left: [metric(METRIC.coldStart, 'Sum')],
          right: [metric(METRIC.initPreparation, 'Average')],
          rightYAxis: { min: 0, max: 1 },
          width: 12,
        }),
        // Failed invocations by class (lib/function-alarms.ts alarms on the first two only).
        new cloudwatch.GraphWidget({
          title: `${label}: failed invocations by class (sum)`,
          left: [
            metric(FAILURE_METRIC.failures, 'Sum'),
            metric(FAILURE_METRIC.refusedLogins, 'Sum'),
            metric(FAILURE_METRIC.rejectedEvents, 'Sum'),
          ],
          width: 24,
        }),
      ];
    }),
  ];
}
