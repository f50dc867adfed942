import { Aws, Duration, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { functionAlarms } from './function-alarms';
import { invocationMetricsWidgets } from './invocation-metrics-widgets';
import { stackIncarnationId } from './incarnation-name';

export interface MonitoredFunction {
  /** Label on the dashboard, e.g. "writer". */
  readonly label: string;
  readonly function: lambda.IFunction;
}

export interface MonitoringProps {
  /** The database to watch. */
  readonly instance: rds.IDatabaseInstance;
  /**
   * Read replicas: each gets ReplicaLag, DatabaseConnections and FreeStorageSpace alarms like the
   * primary's, and a lag graph.
   * @default - none
   */
  readonly replicas?: rds.IDatabaseInstance[];
  /** `max_connections` of the instance (and of the replicas, which share its parameter group). */
  readonly maxConnections: number;
  /**
   * The most connections the stack's own clients hold on the instance at a healthy peak (the
   * functions, or the proxy's pool, plus migration and rotation), from `connectionBudget()`.
   */
  readonly healthyPeakConnections: number;
  /**
   * DatabaseConnections alarm threshold, from `connectionBudget()`: above the healthy peak, so
   * only a client outside the budget or a connection left open reaches it.
   */
  readonly connectionAlarmThreshold: number;
  /**
   * Server connections the RDS Proxy's pool may open, when the functions go through one: the
   * alarm text then names the pool, which may fill up under healthy load, instead of leaks.
   * @default - no proxy
   */
  readonly proxyPoolConnections?: number;
  /**
   * DatabaseConnections alarm threshold on each replica, from `connectionBudget()`: one above the
   * reader's reserved concurrency. Required with replicas.
   * @default - no replicas
   */
  readonly replicaConnectionAlarmThreshold?: number;
  /**
   * Nominal memory of the instance class in MiB: the freeable-memory alarm fires below 1/16 of it
   * (64 MiB on db.t4g.micro, 256 MiB on db.t4g.medium).
   */
  readonly instanceMemoryMiB: number;
  /**
   * Storage allocated at creation in GiB (storage never shrinks, so the least there will ever
   * be): the free-storage alarm fires below half of RDS's autoscaling trigger for it.
   */
  readonly allocatedStorageGiB: number;
  /** Storage autoscaling ceiling in GiB, named in the free-storage alarm's text. */
  readonly maxAllocatedStorageGiB: number;
  /**
   * Functions whose invocations, errors, duration, throttles and concurrency are graphed, and
   * whose throttles, own failures and refused logins raise alarms (lib/function-alarms.ts).
   */
  readonly functions: MonitoredFunction[];
  /**
   * Address that receives alarm notifications (it must confirm the subscription e-mail).
   * @default - no subscription; subscribe to the topic yourself
   */
  readonly alarmEmail?: string;
  /**
   * Name of the CloudWatch dashboard. Dashboards are global per account, so the name must differ
   * between regions; a fixed one would also collide with itself when CloudFormation replaces the
   * dashboard (lib/incarnation-name.ts).
   * @default - `<stack name>-<region>-database-<8 hex digits of the stack id>`
   */
  readonly dashboardName?: string;
  /**
   * Alarms of other constructs (the RDS Proxy's) that notify the topic like the ones here.
   * @default - none
   */
  readonly additionalAlarms?: cloudwatch.Alarm[];
  /**
   * Widgets appended to the dashboard.
   * @default - none
   */
  readonly additionalWidgets?: cloudwatch.IWidget[];
}

const MINUTE = Duration.minutes(1);
/** ReplicaLag alarm threshold, seconds. */
const REPLICA_LAG_ALARM_SECONDS = 60;
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/** Alarms on the database's connections and health, notifying one topic, and a dashboard. */
export class Monitoring extends Construct {
  public readonly alarmTopic: sns.Topic;
  public readonly connectionsAlarm: cloudwatch.Alarm;
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** Sends Secrets Manager's RotationFailed events to the alarm topic. */
  public readonly rotationFailedRule: events.Rule;
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
    if (props.connectionAlarmThreshold <= props.healthyPeakConnections) {
      throw new Error(
        `connectionAlarmThreshold (${props.connectionAlarmThreshold}) must be above the healthy peak ` +
          `(${props.healthyPeakConnections} connections), or the alarm fires under normal load.`
      );
    }
    if ((props.replicas ?? []).length > 0 && props.replicaConnectionAlarmThreshold === undefined) {
      throw new Error('replicaConnectionAlarmThreshold is required when there are replicas.');
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
      alarmDescription: connectionsAlarmText(props),
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
    // InnoDB's buffer pool takes 3/4 of DBInstanceClassMemory by default (innodb_buffer_pool_size
    // {DBInstanceClassMemory*3/4} in RDS's default parameter group; see it with
    // `aws rds describe-engine-default-parameters --db-parameter-group-family mysql8.4`), so a
    // healthy, warmed-up instance shows less than a quarter of its memory as freeable: a "25 % of
    // memory" line would be crossed all the time. What is left serves the OS, per-connection
    // buffers and temporary tables; alarm when less than a quarter of that quarter remains (1/16
    // of nominal memory), where the instance is close to swapping.
    const freeableMemoryThreshold = (props.instanceMemoryMiB * MIB) / 16;
    this.alarm('FreeableMemory', {
      metric: freeableMemory,
      threshold: freeableMemoryThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      alarmDescription:
        `Database freeable memory below ${freeableMemoryThreshold / MIB} MiB (1/16 of the instance memory; the InnoDB buffer pool holds 3/4): ` +
        'the instance is close to swapping. Look for many connections or large temporary tables, or scale the instance class.',
    });
    const freeStorage = this.freeStorageAlarm('FreeStorageSpace', instance, 'the primary', props);
    for (const { label, function: fn } of props.functions) {
      for (const { id, props: alarmProps } of functionAlarms(fn, label)) this.alarm(id, alarmProps);
    }

    for (const alarm of props.additionalAlarms ?? []) {
      alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
      alarm.addOkAction(new actions.SnsAction(this.alarmTopic));
      this.alarms.push(alarm);
    }

    const replicaLag = (props.replicas ?? []).map((replica, index) =>
      this.replicaAlarms(replica, index + 1, props)
    );

    this.rotationFailedRule = this.notifyRotationFailures();
    this.allowPublishFrom(
      'cloudwatch.amazonaws.com',
      this.alarms.map((alarm) => alarm.alarmArn)
    );

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName:
        props.dashboardName ??
        Fn.join('-', [Stack.of(this).stackName, Aws.REGION, 'database', stackIncarnationId(this)]),
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
      ...replicaLag.map(
        (lag, index) =>
          new cloudwatch.GraphWidget({
            title: `Replica ${index + 1}: ReplicaLag (s, max per minute)`,
            left: [lag],
            leftAnnotations: [
              { value: REPLICA_LAG_ALARM_SECONDS, label: 'alarm', color: cloudwatch.Color.ORANGE },
            ],
            width: 12,
          })
      ),
      ...props.functions.flatMap(({ label, function: fn }) => functionWidgets(label, fn)),
      ...invocationMetricsWidgets(props.functions),
      ...(props.additionalWidgets ?? [])
    );
  }

  /**
   * A rule that sends Secrets Manager's RotationFailed events to the alarm topic. Rotation events
   * are CloudTrail service events ("AWS Service Event via CloudTrail"); both CloudTrail
   * detail-types are matched so the rule keeps working if the event is re-classified.
   * https://docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-eventbridge.html
   * https://docs.aws.amazon.com/secretsmanager/latest/userguide/cloudtrail_log_entries.html
   * The pattern is not narrowed to this stack's secrets: the documentation shows no example of
   * the field that names the secret in a RotationFailed event, and a filter on the wrong field
   * would silently drop every failure. A failed rotation elsewhere in the account and region is
   * worth an e-mail too.
   */
  private notifyRotationFailures(): events.Rule {
    const rule = new events.Rule(this, 'RotationFailedRule', {
      description: 'Secrets Manager could not rotate a secret: notify the alarm topic',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail', 'AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: ['RotationFailed'],
        },
      },
    });
    // Not targets.SnsTopic: it grants events.amazonaws.com sns:Publish without conditions. The
    // statement below limits it to this rule.
    rule.addTarget({ bind: () => ({ arn: this.alarmTopic.topicArn }) });
    this.allowPublishFrom('events.amazonaws.com', [rule.ruleArn]);
    return rule;
  }

  /**
   * `enforceSSL` gives the topic a policy of its own, which replaces SNS's default policy: without
   * an Allow, CloudWatch alarms change state but their notifications are refused ("not authorized
   * to perform: SNS:Publish" in the alarm history). Each service may publish only on behalf of
   * the named resources of this account (confused-deputy protection).
   * https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
   * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
   */
  private allowPublishFrom(service: string, sourceArns: string[]): void {
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `AllowPublishFrom${capitalize(service.split('.')[0])}`,
        effect: iam.Effect.ALLOW,
        principals: [new iam.ServicePrincipal(service)],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnEquals: { 'aws:SourceArn': sourceArns },
        },
      })
    );
  }

  /**
   * Storage autoscaling starts when free space is at most 10 % of the allocated storage for five
   * minutes, and at least six hours after the last storage change or once storage optimization
   * has completed (whichever is longer); it stops at MaxAllocatedStorage
   * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html).
   * An alarm at that 10 % would fire on every autoscale. Allocated storage never shrinks, so
   * while autoscaling works free space stays above 10 % of the initial allocation but for the
   * minutes it takes to react; this alarm fires at half of that (5 %), which free space only
   * reaches when autoscaling cannot help: the ceiling is reached, it is waiting out the six
   * hours or the optimization, or the growth outruns it. FreeStorageSpace is in bytes
   * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html).
   */
  private freeStorageAlarm(
    id: string,
    instance: rds.IDatabaseInstance,
    name: string,
    props: MonitoringProps
  ): cloudwatch.IMetric {
    const freeStorage = instance.metricFreeStorageSpace({ period: MINUTE });
    const threshold = freeStorageAlarmBytes(props.allocatedStorageGiB);
    this.alarm(id, {
      metric: freeStorage,
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      alarmDescription:
        `Free storage on ${name} below ${threshold / GIB} GiB, half of what makes storage autoscaling act: ` +
        `autoscaling has reached its ceiling (${props.maxAllocatedStorageGiB} GiB), is waiting out the six hours ` +
        'after its last change, or cannot keep up. Find what grows (binary logs, a table) and raise ' +
        'maxAllocatedStorageGiB in lib/stage-config.ts, or free space.',
    });
    return freeStorage;
  }

  /**
   * A replica's alarms: lag, replication stopped, and the primary's DatabaseConnections and
   * FreeStorageSpace, since the reader connects to it directly and a full replica stops
   * replicating.
   */
  private replicaAlarms(
    replica: rds.IDatabaseInstance,
    n: number,
    props: MonitoringProps
  ): cloudwatch.IMetric {
    const threshold = props.replicaConnectionAlarmThreshold!;
    this.alarm(`Replica${n}DatabaseConnections`, {
      metric: replica.metricDatabaseConnections({ statistic: 'Maximum', period: MINUTE }),
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription:
        `Connections to read replica ${n} reached ${threshold} of max_connections ${props.maxConnections}: ` +
        `more than the reader's reserved concurrency (${threshold - 1}) can open. Look for connections ` +
        'left open (SHOW PROCESSLIST: long Sleep) or a client outside the budget.',
    });
    this.freeStorageAlarm(`Replica${n}FreeStorageSpace`, replica, `read replica ${n}`, props);
    return this.replicaLagAlarms(replica, n);
  }

  /**
   * ReplicaLag is the replica's Seconds_Behind_Master; -1 means replication is not running.
   * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_MySQL.Replication.ReadReplicas.Monitor.html
   * Lag only costs the reader an extra connection per minVersion read (it falls back to the
   * primary), so the alarm is about load and staleness of eventual reads, not correctness.
   */
  private replicaLagAlarms(replica: rds.IDatabaseInstance, n: number): cloudwatch.IMetric {
    const lag = replica.metric('ReplicaLag', { statistic: 'Maximum', period: MINUTE });
    this.alarm(`Replica${n}Lag`, {
      metric: lag,
      threshold: REPLICA_LAG_ALARM_SECONDS,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription: `Read replica ${n} is ${REPLICA_LAG_ALARM_SECONDS} s or more behind: minVersion reads fall back to the primary (more primary load), eventual reads are that stale. Look for long writes on the primary or an undersized replica.`,
    });
    this.alarm(`Replica${n}Stopped`, {
      metric: lag,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      alarmDescription: `Replication to read replica ${n} is not running (ReplicaLag -1): the reader serves minVersion reads from the primary. See the replica's Replication error in the RDS console.`,
    });
    return lag;
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

/**
 * The free-storage alarm line in bytes: half of RDS's autoscaling trigger (10 % of the allocated
 * storage) at the initial allocation. See Monitoring.freeStorageAlarm.
 */
export function freeStorageAlarmBytes(allocatedStorageGiB: number): number {
  return (allocatedStorageGiB * GIB) / 20;
}

/**
 * Behind a proxy the pool may legitimately fill up, so the threshold sits above pool + migration
 * + rotation and the text blames a client that bypasses the proxy, not leaks (the proxy closes
 * idle client connections itself). Without one it sits above what the functions' reserved
 * concurrency, migration and rotation can hold: only a connection left open or an outside
 * client gets there.
 */
function connectionsAlarmText(props: MonitoringProps): string {
  const reached = `Database connections reached ${props.connectionAlarmThreshold} of max_connections ${props.maxConnections}`;
  if (props.proxyPoolConnections !== undefined) {
    return (
      `${reached}: above what the RDS Proxy's pool (at most ${props.proxyPoolConnections}, reached under busy but ` +
      `healthy load), the schema migration and secret rotation can open together (${props.healthyPeakConnections}). ` +
      'A client is connecting to the instance directly: find it with SHOW PROCESSLIST (user and host) and ' +
      "move it behind the proxy, or keep it within the operators' reserve."
    );
  }
  return (
    `${reached}: above what the functions' reserved concurrency, the schema migration and secret rotation ` +
    `can hold together (${props.healthyPeakConnections}). Look for connections left open ` +
    "(SHOW PROCESSLIST: long Sleep) or a client outside the functions' reserved concurrency."
  );
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
