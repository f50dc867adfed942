import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { FAILURE_METRIC, METRICS_NAMESPACE } from '../lambda/lib/metrics';
import { constructIdOf } from './data-function-declaration';

/** One alarm for the Monitoring construct to create on its topic: its id and its settings. */
export interface FunctionAlarmSpec {
  readonly id: string;
  readonly props: Omit<cloudwatch.AlarmProps, 'evaluationPeriods'>;
}

const MINUTE = Duration.minutes(1);

/**
 * The alarms of one data function, for Monitoring to create (once per function). None of them
 * fires on what an invoker sends: Lambda's Errors counts a rejected event (ValidationError) as a
 * failed invocation, so an alarm on it would page on-call for anyone's malformed input. The
 * function counts its failures by class in its embedded-metric lines (countingFailures(),
 * lambda/lib/metrics.ts): the alarms watch the stack's own failures and refused logins.
 * Lambda's Errors stays on the dashboard. A crash or a Lambda timeout, which the handler cannot
 * count, shows there and not here: the handler's deadlines end every wait before Lambda's.
 */
export function functionAlarms(fn: lambda.IFunction, label: string): FunctionAlarmSpec[] {
  const Label = constructIdOf(label); // `order-writer` -> `OrderWriter`: alarm ids
  const count = (metricName: string) =>
    new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { FunctionName: fn.functionName },
      statistic: 'Sum',
      period: MINUTE,
    });
  return [
    {
      id: `${Label}Throttles`,
      props: {
        metric: fn.metricThrottles({ period: MINUTE, statistic: 'Sum' }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription: `The ${label} function was throttled: its reserved concurrency (its share of the connection budget) is exhausted.`,
      },
    },
    {
      id: `${Label}Failures`,
      props: {
        metric: count(FAILURE_METRIC.failures),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription:
          `The ${label} function failed invocations for reasons of its own (not a rejected event, not a refused login) in 3 of the last 5 minutes: ` +
          "read its log group for the error's name (DatabaseUnreachableError, TooManyConnectionsError, ...) and what it says to do (docs/data-path.md#errors).",
      },
    },
    {
      id: `${Label}RefusedLogins`,
      props: {
        metric: count(FAILURE_METRIC.refusedLogins),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // One minute is enough: no invoker's input causes one.
        datapointsToAlarm: 1,
        alarmDescription:
          `The ${label} function could not log in: the database refused every password it knows (DatabaseAccessDeniedError) or Secrets Manager refused its secret (CredentialsUnavailableError). ` +
          "A failed rotation, a password or secret changed by hand, or someone else's hand on the credentials: check the secret's versions and the rotation function's log (docs/rotation.md).",
      },
    },
  ];
}
