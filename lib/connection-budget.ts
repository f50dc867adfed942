import { DataFunctionDeclaration } from './data-function-declaration';

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
 * Connections on the primary that are not the data functions'. Each is a client that connects to
 * the instance directly, proxy or not.
 */
export interface ReservedConnections {
  /** The schema migration custom resource: its function's reserved concurrency (1). */
  readonly migration: number;
  /**
   * Secret rotation: one connection per rotated secret (the admin's and each data function's).
   * A rotation step opens one connection at a time and closes it before the next step.
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
 * What the stack reserves: 1 for the migration, one per rotated secret (the admin's and one per
 * data function), 6 for people and RDS, 1 for an init preparation outside the functions'
 * concurrency.
 */
export function reservedConnections(dataFunctions: number): ReservedConnections {
  return { migration: 1, rotation: dataFunctions + 1, operators: 6, initPreparation: 1 };
}

/** What the budget needs of a declared function (lib/data-function-declaration.ts). */
export type BudgetedFunction = Pick<
  DataFunctionDeclaration,
  'name' | 'connectionShare' | 'readsReplicas'
>;

export interface ConnectionBudgetInput {
  /** Memory of the DB instance class, in MiB (db.t4g.micro: 1024). */
  readonly instanceMemoryMiB: number;
  /** Connections kept for clients other than the data functions. */
  readonly reserved: ReservedConnections;
  /** The data functions, each with its share of the functions' connections. */
  readonly functions: readonly BudgetedFunction[];
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
  /**
   * Reserved concurrency of each data function, by name = connections it can hold (on any one
   * instance).
   */
  readonly concurrency: Readonly<Record<string, number>>;
  /**
   * The most connections the stack's own clients hold on the primary at a healthy peak: the
   * functions (or the proxy's pool), the migration and rotation.
   */
  readonly primaryPeakConnections: number;
  /** DatabaseConnections alarm threshold on the primary: one above the healthy peak. */
  readonly alarmThreshold: number;
  /** What a replica leaves the functions that read replicas: `max_connections` less the operators' and the init preparation's reserves. */
  readonly replicaConnectionsForReaders: number;
  /**
   * DatabaseConnections alarm threshold on each replica: one above the concurrency of the
   * functions that read replicas and the init preparation's reserve.
   */
  readonly replicaAlarmThreshold: number;
}

/**
 * usableMemory      = memory × 3/4                   (a floor under RDS's DBInstanceClassMemory)
 * maxConnections    = floor(usableMemory / 12,582,880 B)   (RDS's own formula, pinned in the parameter group)
 * functions         = maxConnections − migration − rotation − operators − initPreparation
 * each function     = splitByShare(functions): max(1, floor(functions × share / Σ shares)), the
 *                     remainder to the largest share (for the shipped writer 1 : reader 2,
 *                     writer = floor(functions / 3), reader = the rest)
 * primaryPeak       = functions + migration + rotation + initPreparation   (= maxConnections − operators)
 * alarmThreshold    = primaryPeak + 1: only a client outside the budget, or a connection the
 *                     functions left open, can reach it
 * replica share     = maxConnections − operators − initPreparation ≥ what the replica readers
 *                     hold: falling back to the primary, they fit both;
 *                     replicaAlarmThreshold = their sum + initPreparation + 1
 */
export function connectionBudget(input: ConnectionBudgetInput): ConnectionBudget {
  const { instanceMemoryMiB, reserved, functions } = input;
  assertRange('instanceMemoryMiB', instanceMemoryMiB, 256, 4_194_304);
  assertReplicas(input.readReplicas ?? 0);

  const usableMemoryBytes = Math.floor(instanceMemoryMiB * 1024 * 1024 * RDS_USABLE_MEMORY_SHARE);
  const maxConnections = Math.floor(usableMemoryBytes / RDS_MYSQL_BYTES_PER_CONNECTION);
  assertReserved(reserved, maxConnections, instanceMemoryMiB, functions.length);
  const forFunctions = maxConnections - totalReserved(reserved);
  const concurrency = splitByShare(forFunctions, functions);
  const primaryPeakConnections =
    forFunctions + reserved.migration + reserved.rotation + reserved.initPreparation;
  return {
    usableMemoryBytes,
    maxConnections,
    reserved,
    concurrency,
    primaryPeakConnections,
    alarmThreshold: primaryPeakConnections + 1,
    replicaConnectionsForReaders: maxConnections - reserved.operators - reserved.initPreparation,
    replicaAlarmThreshold:
      replicaReadersTotal(concurrency, functions) + reserved.initPreparation + 1,
  };
}

/**
 * `total` connections split between `functions` by their connectionShare: each gets
 * max(1, floor(total × share / Σ shares)), and what rounding leaves goes to the largest share
 * (the first declared among equals). Throws when there are fewer connections than functions.
 */
export function splitByShare(
  total: number,
  functions: readonly Pick<BudgetedFunction, 'name' | 'connectionShare'>[]
): Record<string, number> {
  if (functions.length === 0) throw new Error('The connection budget needs at least one function.');
  for (const f of functions)
    assertRange(`${f.name}'s connectionShare`, f.connectionShare, 0.001, 1e6);
  if (total < functions.length) {
    throw new Error(
      `${total} connections cannot give each of the ${functions.length} data functions one: ` +
        'choose a larger instance class, or lower the reserved connections.'
    );
  }
  const shares = functions.reduce((sum, f) => sum + f.connectionShare, 0);
  const split: Record<string, number> = Object.fromEntries(
    functions.map((f) => [f.name, Math.max(1, Math.floor((total * f.connectionShare) / shares))])
  );
  const largest = functions.reduce((a, b) => (b.connectionShare > a.connectionShare ? b : a));
  split[largest.name] += total - Object.values(split).reduce((sum, n) => sum + n, 0);
  if (split[largest.name] < 1) {
    throw new Error(
      `${total} connections are too few for the data functions' shares ` +
        `(${functions.map((f) => `${f.name} ${f.connectionShare}`).join(', ')}): choose a larger instance class.`
    );
  }
  return split;
}

function replicaReadersTotal(
  concurrency: Readonly<Record<string, number>>,
  functions: readonly BudgetedFunction[]
): number {
  return functions.filter((f) => f.readsReplicas).reduce((sum, f) => sum + concurrency[f.name], 0);
}

function totalReserved(reserved: ReservedConnections): number {
  return reserved.migration + reserved.rotation + reserved.operators + reserved.initPreparation;
}

function assertReserved(
  reserved: ReservedConnections,
  maxConnections: number,
  instanceMemoryMiB: number,
  functionCount: number
): void {
  for (const [name, value] of Object.entries(reserved)) {
    if (!Number.isInteger(value) || value < (name === 'operators' ? 1 : 0)) {
      throw new Error(
        `reserved.${name} must be a whole number${name === 'operators' ? ' of at least 1' : ''}, got ${value}.`
      );
    }
  }
  if (maxConnections - totalReserved(reserved) < Math.max(2, functionCount)) {
    throw new Error(
      `The reserved connections (${totalReserved(reserved)}: migration, rotation, operators) leave the ` +
        `${functionCount} data functions fewer than ${Math.max(2, functionCount)} of max_connections ${maxConnections} (${instanceMemoryMiB} MiB). ` +
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
  /** The data functions, each with its share of the functions' concurrency. */
  readonly functions: readonly BudgetedFunction[];
  /** Client connections one pooled server connection serves (1..20). */
  readonly clientsPerServerConnection: number;
  /** The most reserved concurrency the data functions may take together (the account's share). */
  readonly concurrencyCap: number;
  /**
   * Read replicas the replica readers connect to directly: the proxy fronts the primary only
   * ("each target group is associated with exactly one RDS DB instance",
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbproxytargetgroup.html),
   * so each replica must hold every replica reader's connection itself: the reader picks one
   * replica at random per read (lambda/lib/read-routing.ts), so all of them may land on the same one.
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
  /**
   * Reserved concurrency of each data function, by name; with replicas, the functions that read
   * them are capped together by what a replica holds.
   */
  readonly concurrency: Readonly<Record<string, number>>;
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
 * each function         = splitByShare(functions); with replicas, the replica readers are
 *                         capped at splitByShare(replica share) (maxConnections − operators)
 * primaryPeak           = serverConnections + migration + rotation; alarmThreshold = primaryPeak + 1
 * clientConnectionsAlarmThreshold = Σ concurrency + initPreparation + 1
 *                         (the init preparation goes through the proxy, as the handlers do)
 */
export function proxyConnectionBudget(input: ProxyConnectionBudgetInput): ProxyConnectionBudget {
  const { direct, functions: declared, clientsPerServerConnection, concurrencyCap } = input;
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
  const concurrency = splitByShare(functions, declared);
  const replicaReaders = declared.filter((f) => f.readsReplicas);
  if (readReplicas > 0 && replicaReaders.length > 0) {
    const cap = splitByShare(direct.replicaConnectionsForReaders, replicaReaders);
    for (const { name } of replicaReaders)
      concurrency[name] = Math.min(concurrency[name], cap[name]);
  }
  const total = Object.values(concurrency).reduce((sum, n) => sum + n, 0);
  const primaryPeakConnections = serverConnections + reserved.migration + reserved.rotation;
  return {
    maxConnectionsPercent,
    maxIdleConnectionsPercent: Math.max(1, Math.floor(maxConnectionsPercent / 2)),
    serverConnections,
    concurrency,
    clientConnectionsAlarmThreshold: total + reserved.initPreparation + 1,
    primaryPeakConnections,
    alarmThreshold: primaryPeakConnections + 1,
    replicaAlarmThreshold:
      replicaReadersTotal(concurrency, declared) + reserved.initPreparation + 1,
  };
}
