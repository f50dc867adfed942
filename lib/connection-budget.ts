/**
 * How many database connections the stack may open, derived once from the instance's memory and
 * used by both the functions' reserved concurrency and the DatabaseConnections alarm, so the two
 * can never disagree.
 *
 * Each Lambda execution environment holds at most one connection, and only while an invocation
 * runs (the connection is opened and closed inside the handler). So a function's reserved
 * concurrency is exactly the number of connections it can hold at once.
 */

/**
 * RDS for MySQL's default `max_connections` is `{DBInstanceClassMemory/12582880}`.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections
 */
export const RDS_MYSQL_BYTES_PER_CONNECTION = 12_582_880;

/**
 * The share of the class's nominal memory taken as `DBInstanceClassMemory`. RDS defines that
 * variable as the class's memory less what the operating system and the RDS processes that manage
 * the instance use (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ParamValuesRef.html),
 * and publishes no per-class figure. Observed defaults put it at 77 % of nominal on 1 GiB classes
 * (max_connections 66), 88 % on 2 GiB (150) and 91 % on 4 GiB (312)
 * (http://tritoneco.com/2015/11/23/max_connections-at-aws-rds-mysql-instance-sizes/, third-party):
 * 3/4 stays below all of them, so the pinned `max_connections` is never more than the server has
 * memory for, and never more than RDS itself would allow.
 */
export const RDS_USABLE_MEMORY_SHARE = 0.75;

export interface ConnectionBudgetInput {
  /** Memory of the DB instance class, in MiB (db.t4g.micro: 1024). */
  readonly instanceMemoryMiB: number;
  /**
   * Connections kept free for people and machines that are not the functions: the migration
   * custom resource, secret rotation, an operator's client, RDS's own `rdsadmin`.
   */
  readonly reservedForOperators: number;
  /** Share of the functions' connections that goes to the writer (0..1); the reader gets the rest. */
  readonly writerShare: number;
  /** Alarm when connections reach this share of `max_connections` (0..1). */
  readonly alarmAtShareOfMax: number;
}

export interface ConnectionBudget {
  /** The `DBInstanceClassMemory` assumed, in bytes: nominal memory × RDS_USABLE_MEMORY_SHARE. */
  readonly usableMemoryBytes: number;
  /** The value the parameter group sets for `max_connections`. */
  readonly maxConnections: number;
  /** Reserved concurrency of the writer function = connections it can hold. */
  readonly writerConcurrency: number;
  /** Reserved concurrency of the reader function = connections it can hold. */
  readonly readerConcurrency: number;
  /** DatabaseConnections alarm threshold (connections, Maximum over a minute). */
  readonly alarmThreshold: number;
}

/**
 * usableMemory      = memory × 3/4                   (a floor under RDS's DBInstanceClassMemory)
 * maxConnections    = floor(usableMemory / 12,582,880 B)   (RDS's own formula, pinned in the parameter group)
 * functions         = maxConnections - reservedForOperators
 * writerConcurrency = max(1, floor(functions * writerShare)); readerConcurrency = the rest
 * alarmThreshold    = ceil(maxConnections * alarmAtShareOfMax)
 */
export function connectionBudget(input: ConnectionBudgetInput): ConnectionBudget {
  const { instanceMemoryMiB, reservedForOperators, writerShare, alarmAtShareOfMax } = input;
  assertRange('instanceMemoryMiB', instanceMemoryMiB, 256, 4_194_304);
  assertRange('writerShare', writerShare, 0.01, 0.99);
  assertRange('alarmAtShareOfMax', alarmAtShareOfMax, 0.1, 1);

  const usableMemoryBytes = Math.floor(instanceMemoryMiB * 1024 * 1024 * RDS_USABLE_MEMORY_SHARE);
  const maxConnections = Math.floor(usableMemoryBytes / RDS_MYSQL_BYTES_PER_CONNECTION);
  const forFunctions = maxConnections - reservedForOperators;
  if (!Number.isInteger(reservedForOperators) || reservedForOperators < 1 || forFunctions < 2) {
    throw new Error(
      `reservedForOperators must be a whole number from 1 to ${maxConnections - 2} ` +
        `(max_connections is ${maxConnections} for ${instanceMemoryMiB} MiB), got ${reservedForOperators}. ` +
        'Lower it, or choose a larger instance class.'
    );
  }
  const writerConcurrency = Math.max(1, Math.floor(forFunctions * writerShare));
  return {
    usableMemoryBytes,
    maxConnections,
    writerConcurrency,
    readerConcurrency: forFunctions - writerConcurrency,
    alarmThreshold: Math.ceil(maxConnections * alarmAtShareOfMax),
  };
}

function assertRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name} must be between ${min} and ${max}, got ${value}.`);
  }
}

/**
 * RDS Proxy in front of the instance: what the connection budget becomes.
 *
 * The functions then connect to the proxy, not to MySQL. The proxy keeps its own pool of server
 * connections, at most `maxConnectionsPercent` of `max_connections`
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-connections.html), and lends
 * one to a client connection for each transaction only: with autocommit and no pinning (see
 * test/lambda/proxy-pinning.test.ts) that is one statement. An invocation holds its CLIENT
 * connection for its whole life (TLS, login, statement, close), but a SERVER connection only
 * while its one statement runs. So reserved concurrency is no longer tied to `max_connections`:
 *
 * - server side: `maxConnectionsPercent` is chosen so the proxy leaves `reservedForOperators`
 *   connections free for the migration, rotation and people, which still connect directly;
 * - what bounds concurrency is how many invocations can WAIT for a server connection without
 *   one of them waiting longer than `connectionBorrowTimeout`: `clientsPerServerConnection`
 *   client connections per pooled server connection (an assumption; the dashboard's borrow
 *   latency and the AvailabilityPercentage metrics say whether it holds; lower it if they
 *   do not);
 * - client side: RDS Proxy publishes no fixed limit on client connections; its quotas page
 *   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.Limits)
 *   limits proxies per account and secrets per proxy, so the Lambda account concurrency
 *   (1,000 by default, shared by every function of the account and region) is the other cap:
 *   `accountConcurrencyShare` of it.
 */
export interface ProxyConnectionBudgetInput {
  /** The direct budget of the instance (its `max_connections`). */
  readonly direct: ConnectionBudget;
  /** As in ConnectionBudgetInput: connections left to clients that bypass the proxy. */
  readonly reservedForOperators: number;
  /** Share of the functions' concurrency that goes to the writer (0..1). */
  readonly writerShare: number;
  /** Client connections one pooled server connection serves (1..20). */
  readonly clientsPerServerConnection: number;
  /** The most reserved concurrency the two functions may take together (the account's share). */
  readonly concurrencyCap: number;
}

export interface ProxyConnectionBudget {
  /** The proxy's `MaxConnectionsPercent` of `max_connections`. */
  readonly maxConnectionsPercent: number;
  /** The proxy's `MaxIdleConnectionsPercent`: half its pool stays open when quiet. */
  readonly maxIdleConnectionsPercent: number;
  /** Server connections the proxy may open: floor(maxConnections × percent / 100). */
  readonly serverConnections: number;
  readonly writerConcurrency: number;
  readonly readerConcurrency: number;
  /** ClientConnections alarm threshold: 80 % of the functions' reserved concurrency. */
  readonly clientConnectionsAlarmThreshold: number;
}

/**
 * maxConnectionsPercent = floor(100 × (maxConnections − reservedForOperators) / maxConnections)
 * serverConnections     = floor(maxConnections × maxConnectionsPercent / 100)
 * functions             = min(serverConnections × clientsPerServerConnection, concurrencyCap)
 * writerConcurrency     = max(1, floor(functions × writerShare)); readerConcurrency = the rest
 */
export function proxyConnectionBudget(input: ProxyConnectionBudgetInput): ProxyConnectionBudget {
  const { direct, reservedForOperators, writerShare, clientsPerServerConnection, concurrencyCap } =
    input;
  assertRange('writerShare', writerShare, 0.01, 0.99);
  assertRange('clientsPerServerConnection', clientsPerServerConnection, 1, 20);
  assertRange('concurrencyCap', concurrencyCap, 2, 100_000);
  const max = direct.maxConnections;
  if (
    !Number.isInteger(reservedForOperators) ||
    reservedForOperators < 1 ||
    reservedForOperators > max - 2
  ) {
    throw new Error(
      `reservedForOperators must be a whole number from 1 to ${max - 2} (max_connections is ${max}), ` +
        `got ${reservedForOperators}.`
    );
  }
  const maxConnectionsPercent = Math.floor((100 * (max - reservedForOperators)) / max);
  const serverConnections = Math.floor((max * maxConnectionsPercent) / 100);
  const functions = Math.min(
    Math.floor(serverConnections * clientsPerServerConnection),
    Math.floor(concurrencyCap)
  );
  const writerConcurrency = Math.max(1, Math.floor(functions * writerShare));
  return {
    maxConnectionsPercent,
    maxIdleConnectionsPercent: Math.max(1, Math.floor(maxConnectionsPercent / 2)),
    serverConnections,
    writerConcurrency,
    readerConcurrency: functions - writerConcurrency,
    clientConnectionsAlarmThreshold: Math.ceil(functions * 0.8),
  };
}
