import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { invocationMetricsWidgets } from './invocation-metrics-widgets';

export interface MonitoredFunction {
  /** Label on the dashboard, e.g. "writer". */
  readonly label: string;
  readonly function: lambda.IFunction;
}

export interface MonitoringProps {
  /** The database to watch. */
  readonly instance: rds.IDatabaseInstance;
  /** `max_connections` of the instance, drawn on the connections graph. */
  readonly maxConnections: number;
  /** DatabaseConnections alarm threshold, from `connectionBudget()`. */
  readonly connectionAlarmThreshold: number;
  /** Memory of the instance class in MiB: the freeable-memory alarm fires below a quarter of it. */
  readonly instanceMemoryMiB: number;
  /** Allocated storage in GiB: the free-storage alarm fires below a tenth of it. */
  readonly allocatedStorageGiB: number;
  /** Functions whose invocations, errors, duration, throttles and concurrency are graphed. */
  readonly functions: MonitoredFunction[];
  /**
   * Address that receives alarm notifications (it must confirm the subscription e-mail).
   * @default - no subscription; subscribe to the topic yourself
   */
  readonly alarmEmail?: string;
  /**
   * Name of the CloudWatch dashboard.
   * @default - `<stack name>-database`
   */
  readonly dashboardName?: string;
}

const MINUTE = Duration.minutes(1);
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/** Alarms on the database's connections and health, notifying one topic, and a dashboard. */
export class Monitoring extends Construct {
  public readonly alarmTopic: sns.Topic;
  public readonly connectionsAlarm: cloudwatch.Alarm;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    if (
      props.connectionAlarmThreshold < 1 ||
      props.connectionAlarmThreshold > props.maxConnections
    ) {
      throw new Error(
        `connectionAlarmThreshold must be between 1 and maxConnections (${props.maxConnections}), ` +
          `got ${props.connectionAlarmThreshold}.`
      );
    }
    if (props.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alarmEmail)) {
      throw new Error(
        `alarmEmail "${props.alarmEmail}" is not an e-mail address (e.g. -c alarmEmail=ops@example.com).`
      );
    }

    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Database alarms',
      enforceSSL: true,
    });
    Validations.of(this.alarmTopic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry no sensitive data. CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key, and a customer managed key would add cost to every sandbox.',
    });
    if (props.alarmEmail) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }

    const { instance } = props;
    const connections = instance.metricDatabaseConnections({
      statistic: 'Maximum',
      period: MINUTE,
    });
    this.connectionsAlarm = this.alarm('DatabaseConnections', {
      metric: connections,
      threshold: props.connectionAlarmThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription:
        `Database connections reached ${props.connectionAlarmThreshold} of max_connections ${props.maxConnections}. ` +
        "Look for connections left open (SHOW PROCESSLIST: long Sleep) or a client outside the functions' reserved concurrency.",
    });
    const cpu = instance.metricCPUUtilization({ period: MINUTE });
    this.alarm('CPUUtilization', {
      metric: cpu,
      threshold: 90,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription:
        'Database CPU at or above 90 %: look for slow queries in the slowquery log, or scale the instance class.',
    });
    const freeableMemory = instance.metricFreeableMemory({ period: MINUTE });
    this.alarm('FreeableMemory', {
      metric: freeableMemory,
      threshold: (props.instanceMemoryMiB * MIB) / 4,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      alarmDescription:
        'Database freeable memory below 25 % of the instance memory: scale the instance class.',
    });
    const freeStorage = instance.metricFreeStorageSpace({ period: MINUTE });
    this.alarm('FreeStorageSpace', {
      metric: freeStorage,
      threshold: (props.allocatedStorageGiB * GIB) / 10,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      alarmDescription:
        'Database free storage below 10 % of allocated storage: raise allocated or max allocated storage.',
    });
    for (const { label, function: fn } of props.functions) {
      this.alarm(`${capitalize(label)}Throttles`, {
        metric: fn.metricThrottles({ period: MINUTE, statistic: 'Sum' }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription: `The ${label} function was throttled: its reserved concurrency (its share of the connection budget) is exhausted.`,
      });
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${Stack.of(this).stackName}-database`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: this.alarms,
        width: 24,
        height: 3,
      }),
      new cloudwatch.GraphWidget({
        title: 'Database connections (max per minute)',
        left: [connections],
        leftAnnotations: [
          { value: props.maxConnections, label: 'max_connections', color: cloudwatch.Color.RED },
          { value: props.connectionAlarmThreshold, label: 'alarm', color: cloudwatch.Color.ORANGE },
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({ title: 'Database CPU (%)', left: [cpu], width: 12 }),
      new cloudwatch.GraphWidget({
        title: 'Freeable memory (bytes)',
        left: [freeableMemory],
        width: 12,
      }),
      new cloudwatch.GraphWidget({ title: 'Free storage (bytes)', left: [freeStorage], width: 12 }),
      ...props.functions.flatMap(({ label, function: fn }) => functionWidgets(label, fn)),
      ...invocationMetricsWidgets(props.functions)
    );
  }

  private alarm(
    id: string,
    props: Omit<cloudwatch.AlarmProps, 'evaluationPeriods'>
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, `${id}Alarm`, {
      // 3 of 5 minutes: a one-minute spike does not page anyone, a sustained problem does.
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    alarm.addOkAction(new actions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
    return alarm;
  }
}

function functionWidgets(label: string, fn: lambda.IFunction): cloudwatch.IWidget[] {
  const m = (metric: cloudwatch.Metric) => metric.with({ period: MINUTE });
  return [
    new cloudwatch.GraphWidget({
      title: `${label}: invocations, errors, throttles`,
      left: [m(fn.metricInvocations()), m(fn.metricErrors()), m(fn.metricThrottles())],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: `${label}: duration (ms)`,
      left: [
        m(fn.metricDuration({ statistic: 'p50' })),
        m(fn.metricDuration({ statistic: 'p99' })),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: `${label}: concurrent executions (= open connections)`,
      left: [m(fn.metric('ConcurrentExecutions', { statistic: 'Maximum' }))],
      width: 8,
    }),
  ];
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
