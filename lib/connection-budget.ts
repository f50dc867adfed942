/**
 * How many database connections the stack may open, derived once from the instance's memory and
 * used by both the functions' reserved concurrency and the DatabaseConnections alarm, so the two
 * can never disagree.
 *
 * Each Lambda execution environment holds at most one connection, and only while an invocation
 * runs (the connection is opened and closed inside the handler) or while its init prepares the
 * data path (lambda/lib/init-preparation.ts: one connection, closed before the init ends, so
 * never at the same time as an invocation's). So a function's reserved concurrency is exactly
 * the number of connections its environments serving requests can hold at once; environments
 * Lambda initialises AHEAD of a request are outside it (ReservedConnections.initPreparation).
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

/**
 * Connections on the primary that are not the writer's or the reader's. Each is a client that
 * connects to the instance directly, proxy or not.
 */
export interface ReservedConnections {
  /** The schema migration custom resource: its function's reserved concurrency (1). */
  readonly migration: number;
  /**
   * Secret rotation: one connection per rotated secret (admin, writer, reader). A single-user
   * rotation opens one connection at a time and closes it before the next step.
   */
  readonly rotation: number;
  /**
   * People and tools: an operator's client, RDS's own `rdsadmin`, a monitoring agent. Also kept
   * free on every read replica.
   */
  readonly operators: number;
  /**
   * Init preparations (lambda/lib/init-preparation.ts) of environments that no request is
   * waiting for, on every instance a function prepares (the primary or the proxy, and each
   * replica). Concurrency is "the number of in-flight requests"; an environment initialised for
   * a request is busy with it from its init on, so its preparation is within the function's
   * reserved concurrency (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html),
   * and provisioned concurrency is part of reserved concurrency. But Lambda "may occasionally"
   * initialise on-demand environments ahead of any request
   * (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), and no page
   * says those count toward concurrency, nor how many there are. Each holds its connection for
   * a few milliseconds, takes one attempt and gives up when refused; more of them at once than
   * this reserve can only cost an invocation a "too many connections" retry (database.ts).
   */
  readonly initPreparation: number;
}

/**
 * What the stack reserves: 1 for the migration, 3 rotated secrets, 6 for people and RDS, 1 for
 * an init preparation outside the functions' concurrency.
 */
export const RESERVED_CONNECTIONS: ReservedConnections = {
  migration: 1,
  rotation: 3,
  operators: 6,
  initPreparation: 1,
};

export interface ConnectionBudgetInput {
  /** Memory of the DB instance class, in MiB (db.t4g.micro: 1024). */
  readonly instanceMemoryMiB: number;
  /** Connections kept for clients other than the writer and the reader. */
  readonly reserved: ReservedConnections;
  /** Share of the functions' connections that goes to the writer (0..1); the reader gets the rest. */
  readonly writerShare: number;
  /**
   * Read replicas the reader connects to directly (same class and parameter group as the
   * primary, so the same `max_connections`).
   * @default 0
   */
  readonly readReplicas?: number;
}

export interface ConnectionBudget {
  /** The `DBInstanceClassMemory` assumed, in bytes: nominal memory × RDS_USABLE_MEMORY_SHARE. */
  readonly usableMemoryBytes: number;
  /** The value the parameter group sets for `max_connections` (primary and replicas). */
  readonly maxConnections: number;
  /** What the budget keeps for the migration, rotation and operators. */
  readonly reserved: ReservedConnections;
  /** Reserved concurrency of the writer function = connections it can hold. */
  readonly writerConcurrency: number;
  /** Reserved concurrency of the reader function = connections it can hold (on any one instance). */
  readonly readerConcurrency: number;
  /**
   * The most connections the stack's own clients hold on the primary at a healthy peak: the
   * functions (or the proxy's pool), the migration and rotation.
   */
  readonly primaryPeakConnections: number;
  /** DatabaseConnections alarm threshold on the primary: one above the healthy peak. */
  readonly alarmThreshold: number;
  /** What a replica leaves the reader: `max_connections` less the operators' reserve. */
  readonly replicaConnectionsForReader: number;
  /**
   * DatabaseConnections alarm threshold on each replica: one above the reader's concurrency and
   * the init preparation's reserve.
   */
  readonly replicaAlarmThreshold: number;
}

/**
 * usableMemory      = memory × 3/4                   (a floor under RDS's DBInstanceClassMemory)
 * maxConnections    = floor(usableMemory / 12,582,880 B)   (RDS's own formula, pinned in the parameter group)
 * functions         = maxConnections − migration − rotation − operators − initPreparation
 * writerConcurrency = max(1, floor(functions × writerShare)); readerConcurrency = the rest
 * primaryPeak       = functions + migration + rotation + initPreparation   (= maxConnections − operators)
 * alarmThreshold    = primaryPeak + 1: only a client outside the budget, or a connection the
 *                     functions left open, can reach it
 * replica share     = maxConnections − operators ≥ readerConcurrency + initPreparation: the
 *                     reader, falling back to the primary, fits both;
 *                     replicaAlarmThreshold = readerConcurrency + initPreparation + 1
 */
export function connectionBudget(input: ConnectionBudgetInput): ConnectionBudget {
  const { instanceMemoryMiB, reserved, writerShare } = input;
  assertRange('instanceMemoryMiB', instanceMemoryMiB, 256, 4_194_304);
  assertRange('writerShare', writerShare, 0.01, 0.99);
  assertReplicas(input.readReplicas ?? 0);

  const usableMemoryBytes = Math.floor(instanceMemoryMiB * 1024 * 1024 * RDS_USABLE_MEMORY_SHARE);
  const maxConnections = Math.floor(usableMemoryBytes / RDS_MYSQL_BYTES_PER_CONNECTION);
  assertReserved(reserved, maxConnections, instanceMemoryMiB);
  const forFunctions = maxConnections - totalReserved(reserved);
  const writerConcurrency = Math.max(1, Math.floor(forFunctions * writerShare));
  const readerConcurrency = forFunctions - writerConcurrency;
  const primaryPeakConnections =
    forFunctions + reserved.migration + reserved.rotation + reserved.initPreparation;
  return {
    usableMemoryBytes,
    maxConnections,
    reserved,
    writerConcurrency,
    readerConcurrency,
    primaryPeakConnections,
    alarmThreshold: primaryPeakConnections + 1,
    replicaConnectionsForReader: maxConnections - reserved.operators - reserved.initPreparation,
    replicaAlarmThreshold: readerConcurrency + reserved.initPreparation + 1,
  };
}

function totalReserved(reserved: ReservedConnections): number {
  return reserved.migration + reserved.rotation + reserved.operators + reserved.initPreparation;
}

function assertReserved(
  reserved: ReservedConnections,
  maxConnections: number,
  instanceMemoryMiB: number
): void {
  for (const [name, value] of Object.entries(reserved)) {
    if (!Number.isInteger(value) || value < (name === 'operators' ? 1 : 0)) {
      throw new Error(
        `reserved.${name} must be a whole number${name === 'operators' ? ' of at least 1' : ''}, got ${value}.`
      );
    }
  }
  if (maxConnections - totalReserved(reserved) < 2) {
    throw new Error(
      `The reserved connections (${totalReserved(reserved)}: migration, rotation, operators) leave the ` +
        `functions fewer than 2 of max_connections ${maxConnections} (${instanceMemoryMiB} MiB). ` +
        'Lower them, or choose a larger instance class.'
    );
  }
}

function assertReplicas(readReplicas: number): void {
  if (!Number.isInteger(readReplicas) || readReplicas < 0 || readReplicas > 15) {
    throw new Error(`readReplicas must be a whole number from 0 to 15, got ${readReplicas}.`);
  }
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
 * - server side: `maxConnectionsPercent` is chosen so the proxy leaves the reserved connections
 *   free for the migration, rotation and people, which still connect directly;
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
  /** The direct budget of the instance: its `max_connections` and reserved connections. */
  readonly direct: ConnectionBudget;
  /** Share of the functions' concurrency that goes to the writer (0..1). */
  readonly writerShare: number;
  /** Client connections one pooled server connection serves (1..20). */
  readonly clientsPerServerConnection: number;
  /** The most reserved concurrency the two functions may take together (the account's share). */
  readonly concurrencyCap: number;
  /**
   * Read replicas the reader connects to directly: the proxy fronts the primary only ("each
   * target group is associated with exactly one RDS DB instance",
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbproxytargetgroup.html),
   * so each replica must hold every reader connection itself: the reader picks one replica at
   * random per read (lambda/lib/read-routing.ts), so all of them may land on the same one.
   * @default 0
   */
  readonly readReplicas?: number;
}

export interface ProxyConnectionBudget {
  /** The proxy's `MaxConnectionsPercent` of `max_connections`. */
  readonly maxConnectionsPercent: number;
  /** The proxy's `MaxIdleConnectionsPercent`: half its pool stays open when quiet. */
  readonly maxIdleConnectionsPercent: number;
  /** Server connections the proxy may open: floor(maxConnections × percent / 100). */
  readonly serverConnections: number;
  readonly writerConcurrency: number;
  /** Capped by the replicas' share when there are replicas. */
  readonly readerConcurrency: number;
  /**
   * ClientConnections alarm threshold: one above the functions' reserved concurrency and the init
   * preparation's reserve. Each execution environment holds at most one client connection, so a
   * healthy peak (every environment busy, one more initialising ahead of a request) reaches
   * that exactly; more means a client outside the stack or
   * connections outliving their invocations. Running out of concurrency is the Throttles
   * alarms' job (lib/monitoring.ts).
   */
  readonly clientConnectionsAlarmThreshold: number;
  /** Pool + migration + rotation: the most the primary sees at a healthy peak. */
  readonly primaryPeakConnections: number;
  /** DatabaseConnections alarm threshold on the primary: one above the healthy peak. */
  readonly alarmThreshold: number;
  /**
   * DatabaseConnections alarm threshold on each replica: one above the reader's concurrency and
   * the init preparation's reserve.
   */
  readonly replicaAlarmThreshold: number;
}

/**
 * maxConnectionsPercent = floor(100 × (maxConnections − migration − rotation − operators − initPreparation) / maxConnections)
 * serverConnections     = floor(maxConnections × maxConnectionsPercent / 100)
 * functions             = min(serverConnections × clientsPerServerConnection, concurrencyCap)
 * writerConcurrency     = max(1, floor(functions × writerShare)); reader = the rest,
 *                         capped with replicas at the replica share (maxConnections − operators)
 * primaryPeak           = serverConnections + migration + rotation; alarmThreshold = primaryPeak + 1
 * clientConnectionsAlarmThreshold = writerConcurrency + readerConcurrency + initPreparation + 1
 *                         (the init preparation goes through the proxy, as the handlers do)
 */
export function proxyConnectionBudget(input: ProxyConnectionBudgetInput): ProxyConnectionBudget {
  const { direct, writerShare, clientsPerServerConnection, concurrencyCap } = input;
  assertRange('writerShare', writerShare, 0.01, 0.99);
  assertRange('clientsPerServerConnection', clientsPerServerConnection, 1, 20);
  assertRange('concurrencyCap', concurrencyCap, 2, 100_000);
  const readReplicas = input.readReplicas ?? 0;
  assertReplicas(readReplicas);
  const max = direct.maxConnections;
  const { reserved } = direct;
  const maxConnectionsPercent = Math.floor((100 * (max - totalReserved(reserved))) / max);
  const serverConnections = Math.floor((max * maxConnectionsPercent) / 100);
  const functions = Math.min(
    Math.floor(serverConnections * clientsPerServerConnection),
    Math.floor(concurrencyCap)
  );
  const writerConcurrency = Math.max(1, Math.floor(functions * writerShare));
  const readerShare = functions - writerConcurrency;
  const readerConcurrency =
    readReplicas > 0 ? Math.min(readerShare, direct.replicaConnectionsForReader) : readerShare;
  const primaryPeakConnections = serverConnections + reserved.migration + reserved.rotation;
  return {
    maxConnectionsPercent,
    maxIdleConnectionsPercent: Math.max(1, Math.floor(maxConnectionsPercent / 2)),
    serverConnections,
    writerConcurrency,
    readerConcurrency,
    clientConnectionsAlarmThreshold:
      writerConcurrency + readerConcurrency + reserved.initPreparation + 1,
    primaryPeakConnections,
    alarmThreshold: primaryPeakConnections + 1,
    replicaAlarmThreshold: readerConcurrency + reserved.initPreparation + 1,
  };
}
