import { Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PROXY_BORROW_TIMEOUT_MS } from '../lambda/lib/server-bounds';
import { incarnationName } from './incarnation-name';

export interface DatabaseProxyProps {
  /** Network of the proxy (the instance's). */
  readonly vpc: ec2.IVpc;
  /** Subnets of the proxy's network interfaces (isolated). */
  readonly vpcSubnets: ec2.SubnetSelection;
  /** The instance the proxy fronts; its security group is opened to the proxy on 3306. */
  readonly instance: rds.DatabaseInstance;
  /**
   * Secrets of every database user the proxy serves (the functions' users). The proxy's role
   * may read these and no other. It authenticates clients against its cached AWSCURRENT of each
   * and re-reads them at a time the RDS Proxy guide does not state; rotation alternates users
   * (lambda/lib/rotation.ts), so the user and password it holds keep working until it does, and
   * the functions fall back to AWSPREVIOUS when it still holds that version. Tested through the
   * proxy stand-in with the re-read immediate and minutes late (test/lambda/rotation-under-load.test.ts).
   */
  readonly secrets: secretsmanager.ISecret[];
  /** `MaxConnectionsPercent` of `max_connections`, from `proxyConnectionBudget()`. */
  readonly maxConnectionsPercent: number;
  /** `MaxIdleConnectionsPercent`, from `proxyConnectionBudget()`. */
  readonly maxIdleConnectionsPercent: number;
  /** ClientConnections alarm threshold, from `proxyConnectionBudget()`: fires at this many. */
  readonly clientConnectionsAlarmThreshold: number;
  /**
   * How long a statement may wait for a pooled server connection.
   * @default PROXY_BORROW_TIMEOUT_MS (1 s) — included in the functions' statement timeout
   */
  readonly borrowTimeout?: Duration;
  /**
   * Retention of the proxy's log group, `/aws/rds/proxy/<proxy name>`.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to that log group when it leaves the stack.
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

const MINUTE = Duration.minutes(1);

/**
 * An RDS Proxy in front of the instance: TLS required from clients, Secrets Manager
 * authentication with the functions' own users, pool sized by the connection budget. Exposes
 * alarms and dashboard widgets for the Monitoring construct's topic and dashboard.
 *
 * Engine support (RDS for MySQL 8.4): see docs/proxy-and-replicas.md, and
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.RDS_Fea_Regions_DB-eng.Feature.RDSProxy.html
 */
export class DatabaseProxy extends Construct {
  public readonly proxy: rds.DatabaseProxy;
  public readonly securityGroup: ec2.SecurityGroup;
  /** Pinned sessions > 0, client connections near the budget, borrow latency, query latency. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly widgets: cloudwatch.IWidget[];

  constructor(scope: Construct, id: string, props: DatabaseProxyProps) {
    super(scope, id);
    const borrowTimeout = props.borrowTimeout ?? Duration.millis(PROXY_BORROW_TIMEOUT_MS);
    if (borrowTimeout.toMilliseconds() > PROXY_BORROW_TIMEOUT_MS) {
      throw new Error(
        `borrowTimeout must not exceed ${PROXY_BORROW_TIMEOUT_MS} ms (PROXY_BORROW_TIMEOUT_MS, which the ` +
          `functions' statement timeout includes), got ${borrowTimeout.toMilliseconds()} ms. Raise ` +
          'PROXY_BORROW_TIMEOUT_MS in lambda/lib/server-bounds.ts instead.'
      );
    }
    // Only the functions (added by allowDefaultPortFrom) may reach the proxy; it reaches only the instance.
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'RDS Proxy: ingress from the functions, egress only to the database',
      allowAllOutbound: false,
    });

    // A per-incarnation name instead of CDK's fixed default (the construct path): any change that
    // replaces the proxy (a create-only property such as its subnets, or a moved logical id) is
    // done by creating the new proxy before deleting the old one, which a fixed name fails with
    // "already exists" (lib/incarnation-name.ts;
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbproxy.html).
    const dbProxyName = incarnationName(this, id);
    // The proxy writes its logs to /aws/rds/proxy/<name>, a group it creates on first use with no
    // retention, which `cdk destroy` would leave behind
    // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.troubleshooting.html).
    // Known before the proxy exists, the name lets the stack own that group and create it first.
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: Fn.join('', ['/aws/rds/proxy/', dbProxyName]),
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    this.proxy = new rds.DatabaseProxy(this, 'Proxy', {
      dbProxyName,
      proxyTarget: rds.ProxyTarget.fromInstance(props.instance),
      secrets: props.secrets,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [this.securityGroup],
      requireTLS: true,
      // CDK's role, trusted by rds.amazonaws.com with no source conditions: no RDS Proxy page
      // says the proxy sends aws:SourceAccount / aws:SourceArn when it assumes its role (its IAM
      // set-up page makes the role with none: rds-proxy-iam-setup.html), and if it does not, a
      // conditioned role would refuse it and every login through the proxy would fail. The
      // role may read only the functions' secrets.
      // How clients (the functions) log in to the proxy. Stated, not left to the default: the
      // RDS API documents MYSQL_CACHING_SHA2_PASSWORD as the default for RDS for MySQL
      // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_UserAuthConfig.html),
      // the CloudFormation AuthFormat page lists it next to MYSQL_NATIVE_PASSWORD
      // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-rds-dbproxy-authformat.html),
      // and MySQL 8.4 ships mysql_native_password disabled
      // (https://dev.mysql.com/doc/refman/8.4/en/native-pluggable-authentication.html). The
      // migration creates the users IDENTIFIED WITH caching_sha2_password to match
      // (lambda/lib/password-clause.ts); mysql2 speaks it, fast and full, over TLS
      // (test/lambda/caching-sha2-login.test.ts, and through the RDS Proxy stand-in:
      // test/lambda/rds-proxy-stand-in.test.ts). The proxy reaches the instance with the
      // secrets' passwords on its own connections.
      clientPasswordAuthType: rds.ClientPasswordAuthType.MYSQL_CACHING_SHA2_PASSWORD,
      maxConnectionsPercent: props.maxConnectionsPercent,
      maxIdleConnectionsPercent: props.maxIdleConnectionsPercent,
      borrowTimeout,
      // Lambda environments are frozen between invocations; their client connections are
      // closed in the handler anyway, so an idle one is a leak: drop it after 5 minutes
      // (default 30), like the instance's wait_timeout.
      idleClientTimeout: Duration.minutes(5),
      debugLogging: false,
    });
    this.proxy.node.addDependency(logGroup);
    // ProxyTarget.fromInstance opens the instance's security group to the proxy's (the port only).

    const metric = (metricName: string, statistic: string, label: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/RDS',
        metricName,
        dimensionsMap: { ProxyName: this.proxy.dbProxyName },
        statistic,
        period: MINUTE,
        label,
      });
    // Metric names and statistics: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.monitoring.html
    const pinned = metric('DatabaseConnectionsCurrentlySessionPinned', 'Sum', 'pinned sessions');
    const clients = metric('ClientConnections', 'Sum', 'client connections');
    // Averages: whether the proxy publishes these with percentiles was not checked.
    const borrowLatency = metric(
      'DatabaseConnectionsBorrowLatency',
      'Average',
      'borrow latency (µs)'
    );
    const queryLatency = metric('QueryDatabaseResponseLatency', 'Average', 'query latency (µs)');
    const serverConnections = metric('DatabaseConnections', 'Sum', 'server connections');

    // The data path never pins (test/lambda/proxy-pinning.test.ts): one pinned session means a
    // code or driver change did, and the pool stops multiplexing.
    this.addAlarm(
      'SessionPinned',
      pinned,
      0,
      'A session is pinned to a server connection: some client sends SET, a user variable, a prepared statement or a multi-statement. Find it with the proxy logs (debug logging) and remove it.'
    );
    this.addAlarm(
      'ClientConnections',
      clients,
      props.clientConnectionsAlarmThreshold - 1,
      "More client connections to the proxy than the writer and reader can hold (one per execution environment, up to their reserved concurrency): a client outside the stack connects through the proxy, or connections outlive their invocations. Find them in the proxy logs; the functions' own saturation shows in the Throttles alarms."
    );
    this.addAlarm(
      'BorrowLatency',
      borrowLatency,
      (borrowTimeout.toMilliseconds() * 1000) / 2,
      'Statements wait more than half the borrow timeout for a server connection: the pool is too small for the load (clientsPerServerConnection in lib/connection-budget.ts).'
    );
    this.addAlarm(
      'QueryLatency',
      queryLatency,
      500_000,
      'Database responses through the proxy take over 0.5 s on average: check the instance CPU and locks.'
    );

    this.widgets = [
      new cloudwatch.GraphWidget({
        title: 'RDS Proxy connections',
        left: [clients, serverConnections, pinned],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'RDS Proxy latency (µs)',
        left: [borrowLatency, queryLatency],
        width: 12,
      }),
    ];
  }

  private addAlarm(id: string, metric: cloudwatch.Metric, threshold: number, description: string) {
    this.alarms.push(
      new cloudwatch.Alarm(this, `${id}Alarm`, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      })
    );
  }
}
