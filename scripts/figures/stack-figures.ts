/**
 * The figures the README and docs/ state about the stack (reserved concurrency, connection
 * budgets, alarm thresholds, replicas, costs), read from the synthesized templates of the stage
 * defaults, never typed by hand. `npm run docs:figures` writes them between marker lines;
 * test/lib/snapshot.test.ts fails when the docs differ from what the stack synthesizes now.
 */
import { constructIdOf } from '../../lib/data-function-declaration';
import { DATA_FUNCTIONS } from '../../lib/declared-functions';
import { blockIn } from '../lib/readme-block';
import type { TemplateJson } from '../lib/synthesize';
import { formatMarkdownTable } from '../lib/table';
import {
  ALARM_MONTH,
  DASHBOARD_MONTH,
  HOURS_PER_MONTH,
  INSTANCE_CLASSES,
  INTERFACE_ENDPOINT_AZ_HOUR,
  MULTI_AZ_FACTOR,
  NAT_GATEWAY_HOUR,
  RDS_GP3_GB_MONTH,
  RDS_INSTANCE_HOUR,
  RDS_PROXY_MIN_VCPUS,
  RDS_PROXY_VCPU_HOUR,
  SECRET_MONTH,
  UnitPrice,
  lookup,
} from './prices';

export type { TemplateJson };
/** Where the blocks are read and written; test/lib/snapshot.test.ts reads them from here. */
export { blockIn };

export interface AlarmFigure {
  /** Metric and statistic, e.g. `DatabaseConnections (Maximum)`. */
  readonly metric: string;
  /** What it watches: primary, replica 1, writer, reader, proxy. */
  readonly on: string;
  /** Comparison and threshold in the metric's unit, e.g. `≥ 52`, `< 64 MiB`. */
  readonly condition: string;
  /** Datapoints of evaluation periods, e.g. `3 of 5 × 1 min`. */
  readonly window: string;
}

export interface StackFigures {
  readonly stage: string;
  /** Engine and version of the primary, as the template pins them. */
  readonly engine: string;
  readonly instanceClass: string;
  readonly multiAz: boolean;
  readonly allocatedGiB: number;
  readonly maxAllocatedGiB?: number;
  /** `max_connections` of the primary's parameter group. */
  readonly maxConnections: number;
  /** Functions with reserved concurrency, in template order. */
  readonly reservations: readonly { readonly label: string; readonly reserved: number }[];
  readonly proxy?: {
    readonly maxConnectionsPercent: number;
    readonly maxIdleConnectionsPercent: number;
    readonly borrowTimeoutSeconds: number;
  };
  /** Instance class of each read replica. */
  readonly replicas: readonly string[];
  readonly alarms: readonly AlarmFigure[];
  /** AZs (subnets) the Secrets Manager interface endpoint has an ENI in. */
  readonly secretsEndpointAzs: number;
  readonly secrets: number;
  readonly dashboards: number;
}

/**
 * Lambda keeps at least 100 of the account's concurrency unreserved: "You can reserve up to the
 * Unreserved account concurrency value minus 100" (the preflight checks it).
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
 */
export const LAMBDA_UNRESERVED_MINIMUM = 100;

/**
 * Reads the figures of one stage out of its synthesized template. Data functions are named by
 * their declaration (`functions`); the stack's own (migration, rotation) by their logical ID.
 */
export function stackFigures(
  stage: string,
  template: TemplateJson,
  functions: readonly { readonly name: string }[] = DATA_FUNCTIONS
): StackFigures {
  const resources = Object.entries(template.Resources ?? {});
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const instances = ofType('AWS::RDS::DBInstance');
  const primaries = instances.filter(([, r]) => !r.Properties?.SourceDBInstanceIdentifier);
  if (primaries.length !== 1) {
    throw new Error(`${stage}: expected one primary DB instance, found ${primaries.length}.`);
  }
  const [primaryId, primary] = primaries[0];
  const p = primary.Properties ?? {};
  const replicaIds = instances
    .filter(([, r]) => r.Properties?.SourceDBInstanceIdentifier)
    .map(([id]) => id);

  const groups = ofType('AWS::RDS::DBParameterGroup');
  const groupRef = p.DBParameterGroupName?.Ref;
  const group =
    groups.find(([id]) => id === groupRef) ?? (groups.length === 1 ? groups[0] : undefined);
  const maxConnections = Number(group?.[1].Properties?.Parameters?.max_connections);
  if (!Number.isInteger(maxConnections)) {
    throw new Error(`${stage}: the primary's parameter group sets no max_connections.`);
  }

  const functionLabels = new Map(
    ofType('AWS::Lambda::Function').map(([id]) => [id, functionLabel(id, functions)])
  );
  const reservations = ofType('AWS::Lambda::Function')
    .filter(([, r]) => Number(r.Properties?.ReservedConcurrentExecutions ?? 0) > 0)
    .map(([id, r]) => ({
      label: functionLabels.get(id) ?? id,
      reserved: Number(r.Properties?.ReservedConcurrentExecutions),
    }));

  const targetGroup = ofType('AWS::RDS::DBProxyTargetGroup')[0]?.[1].Properties;
  const pool = targetGroup?.ConnectionPoolConfigurationInfo ?? {};
  const proxyIds = ofType('AWS::RDS::DBProxy').map(([id]) => id);

  const labelOf = (ref: unknown): string => {
    if (ref === primaryId) return 'primary';
    const replica = replicaIds.indexOf(String(ref));
    if (replica >= 0) return `replica ${replica + 1}`;
    if (proxyIds.includes(String(ref))) return 'proxy';
    return functionLabels.get(String(ref)) ?? String(ref);
  };

  const endpoint = ofType('AWS::EC2::VPCEndpoint').find(([, r]) =>
    JSON.stringify(r.Properties?.ServiceName ?? '').includes('secretsmanager')
  );
  return {
    stage,
    engine: `${p.Engine} ${p.EngineVersion}`,
    instanceClass: String(p.DBInstanceClass),
    multiAz: p.MultiAZ === true || p.MultiAZ === 'true',
    allocatedGiB: Number(p.AllocatedStorage),
    maxAllocatedGiB:
      p.MaxAllocatedStorage === undefined ? undefined : Number(p.MaxAllocatedStorage),
    maxConnections,
    reservations,
    proxy: targetGroup
      ? {
          maxConnectionsPercent: Number(pool.MaxConnectionsPercent),
          maxIdleConnectionsPercent: Number(pool.MaxIdleConnectionsPercent),
          borrowTimeoutSeconds: Number(pool.ConnectionBorrowTimeout),
        }
      : undefined,
    replicas: replicaIds.map((id) =>
      String(
        instances.find(([i]) => i === id)?.[1].Properties?.DBInstanceClass ?? p.DBInstanceClass
      )
    ),
    alarms: ofType('AWS::CloudWatch::Alarm').map(([, r]) =>
      alarmFigure(r.Properties ?? {}, labelOf)
    ),
    secretsEndpointAzs: endpoint?.[1].Properties?.SubnetIds?.length ?? 0,
    secrets: ofType('AWS::SecretsManager::Secret').length,
    dashboards: ofType('AWS::CloudWatch::Dashboard').length,
  };
}

/**
 * `FunctionsOrderWriterFunction5CC26CF5` -> `order-writer`, the declared name whose construct
 * path makes the ID; any other function: the word before `Function` and the hash
 * (`SchemaMigrationMigrationFunction…` -> `migration`).
 */
function functionLabel(logicalId: string, functions: readonly { readonly name: string }[]): string {
  const declared = functions.find(({ name }) =>
    new RegExp(`^Functions${constructIdOf(name)}Function[0-9A-F]{8}$`).test(logicalId)
  );
  if (declared) return declared.name;
  const match = /([A-Z][a-z0-9]*)Function[0-9A-F]{8}$/.exec(logicalId);
  return match ? match[1].toLowerCase() : logicalId;
}

const COMPARISONS: Record<string, string> = {
  GreaterThanOrEqualToThreshold: '≥',
  GreaterThanThreshold: '>',
  LessThanThreshold: '<',
  LessThanOrEqualToThreshold: '≤',
};

/** Units of the metrics whose raw threshold a reader would otherwise have to convert. */
const UNITS: Record<string, (value: number) => string> = {
  FreeableMemory: bytes,
  FreeStorageSpace: bytes,
  // RDS Proxy reports these in microseconds.
  DatabaseConnectionsBorrowLatency: (us) => `${us / 1000} ms`,
  QueryDatabaseResponseLatency: (us) => `${us / 1000} ms`,
  ReplicaLag: (s) => `${s} s`,
  CPUUtilization: (pct) => `${pct} %`,
};

function bytes(value: number): string {
  const gib = value / 1024 ** 3;
  return gib >= 1 ? `${+gib.toFixed(2)} GiB` : `${+(value / 1024 ** 2).toFixed(1)} MiB`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function alarmFigure(a: Record<string, any>, labelOf: (ref: unknown) => string): AlarmFigure {
  const stat = a.Metrics?.find((m: { MetricStat?: unknown }) => m.MetricStat)?.MetricStat;
  const metricName: string = a.MetricName ?? stat?.Metric?.MetricName ?? 'expression';
  const statistic: string = a.Statistic ?? a.ExtendedStatistic ?? stat?.Stat ?? '';
  const dimension = (a.Dimensions ?? stat?.Metric?.Dimensions ?? [])[0];
  const period = Number(a.Period ?? stat?.Period ?? 60);
  const threshold = Number(a.Threshold);
  const unit = UNITS[metricName] ?? ((v: number) => String(v));
  const periods = Number(a.EvaluationPeriods);
  return {
    metric: `${metricName} (${statistic})`,
    on: dimension ? labelOf(dimension.Value?.Ref) : 'account',
    condition: `${COMPARISONS[a.ComparisonOperator] ?? a.ComparisonOperator} ${unit(threshold)}`,
    window: `${a.DatapointsToAlarm ?? periods} of ${periods} × ${period / 60} min`,
  };
}

// ---------------------------------------------------------------------------------------------
// The blocks

const dollars = (usd: number) => `$${usd.toFixed(2)}`;
/** $0.016, $0.40, $3.00: cents always, a third decimal only when the price has one. */
const unitDollars = (usd: number) =>
  `$${usd.toFixed(Math.abs(usd * 100 - Math.round(usd * 100)) > 1e-9 ? 3 : 2)}`;

function classFacts(instanceClass: string) {
  return lookup(INSTANCE_CLASSES, instanceClass, 'vCPU count');
}

/** The table of budgets, reservations and thresholds, one column per stage. */
export function figuresBlock(stages: readonly StackFigures[]): string {
  const labels = [...new Set(stages.flatMap((s) => s.reservations.map((r) => r.label)))];
  const reserved = (s: StackFigures) => s.reservations.reduce((sum, r) => sum + r.reserved, 0);
  const connectionsAlarm = (s: StackFigures) =>
    s.alarms.find((a) => a.on === 'primary' && a.metric.startsWith('DatabaseConnections '))
      ?.condition ?? 'none';
  const rows: [string, (s: StackFigures) => string | number][] = [
    ['instance', (s) => `\`${s.instanceClass}\`, ${s.multiAz ? 'Multi-AZ' : 'single-AZ'}`],
    [
      'CPU baseline',
      (s) => {
        const c = classFacts(s.instanceClass);
        return c.baselinePerVcpu === undefined
          ? `${c.vcpus} vCPUs`
          : `${c.vcpus} vCPUs × ${Math.round(c.baselinePerVcpu * 100)} % = ${+(c.vcpus * c.baselinePerVcpu).toFixed(2)} vCPU`;
      },
    ],
    [
      'gp3 storage',
      (s) =>
        `${s.allocatedGiB} GiB` +
        (s.maxAllocatedGiB ? `, autoscaling to ${s.maxAllocatedGiB} GiB` : ''),
    ],
    ['engine', (s) => `\`${s.engine}\``],
    ['`max_connections`', (s) => s.maxConnections],
    ['DatabaseConnections alarm', connectionsAlarm],
    [
      'RDS Proxy pool',
      (s) =>
        s.proxy
          ? `${s.proxy.maxConnectionsPercent} % of \`max_connections\` ` +
            `(${Math.floor((s.maxConnections * s.proxy.maxConnectionsPercent) / 100)} connections), ` +
            `${s.proxy.maxIdleConnectionsPercent} % kept idle, borrow timeout ${s.proxy.borrowTimeoutSeconds} s`
          : 'off (`-c proxy=true` turns it on)',
    ],
    ...labels.map((label): [string, (s: StackFigures) => string | number] => [
      `reserved concurrency: ${label}`,
      (s) => s.reservations.find((r) => r.label === label)?.reserved ?? 0,
    ]),
    ['reserved concurrency in all', reserved],
    [
      `account concurrency needed (reserved + ${LAMBDA_UNRESERVED_MINIMUM} unreserved)`,
      (s) => reserved(s) + LAMBDA_UNRESERVED_MINIMUM,
    ],
    [
      'read replicas',
      (s) => (s.replicas.length ? `${s.replicas.length} × \`${s.replicas[0]}\`` : '0'),
    ],
    ['CloudWatch alarms', (s) => s.alarms.length],
  ];
  return [
    'Stage defaults, read from the templates `cdk synth` produces (`npm run docs:figures` rewrites this block):',
    '',
    formatMarkdownTable(
      ['', ...stages.map((s) => s.stage)],
      rows.map(([label, cell]) => [label, ...stages.map((s) => String(cell(s)))]),
      { alignRight: [] }
    ),
  ].join('\n');
}

/** One row of the cost table: what a stage's template holds of it, and its monthly price. */
interface CostLine {
  readonly row: string;
  readonly what: string;
  readonly usd: number;
}

function instanceMonth(instanceClass: string, multiAz: boolean): number {
  const hour = lookup(RDS_INSTANCE_HOUR, instanceClass, 'instance-hour price').usd;
  return hour * HOURS_PER_MONTH * (multiAz ? MULTI_AZ_FACTOR : 1);
}

function replicaMonth(s: StackFigures, instanceClass: string): number {
  // A replica is single-AZ and starts with its source's allocated storage.
  return instanceMonth(instanceClass, false) + s.allocatedGiB * RDS_GP3_GB_MONTH.usd;
}

function proxyMonth(instanceClass: string): number {
  const vcpus = Math.max(RDS_PROXY_MIN_VCPUS, classFacts(instanceClass).vcpus);
  return vcpus * RDS_PROXY_VCPU_HOUR.usd * HOURS_PER_MONTH;
}

/** What a stage's template costs a month before usage: its resources times the unit prices. */
export function costLines(s: StackFigures): CostLine[] {
  const az = s.multiAz ? 'Multi-AZ' : 'single-AZ';
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return [
    {
      row: 'RDS instance',
      what: `\`${s.instanceClass}\`, ${az}`,
      usd: instanceMonth(s.instanceClass, s.multiAz),
    },
    {
      row: 'gp3 storage',
      what: `${s.allocatedGiB} GiB, ${az}`,
      usd: s.allocatedGiB * RDS_GP3_GB_MONTH.usd * (s.multiAz ? MULTI_AZ_FACTOR : 1),
    },
    {
      row: 'read replicas',
      what: s.replicas.length
        ? `${s.replicas.length} × (\`${s.replicas[0]}\` + ${s.allocatedGiB} GiB)`
        : 'none',
      usd: s.replicas.reduce((sum, c) => sum + replicaMonth(s, c), 0),
    },
    {
      row: 'RDS Proxy',
      what: s.proxy
        ? `${Math.max(RDS_PROXY_MIN_VCPUS, classFacts(s.instanceClass).vcpus)} vCPUs`
        : 'off',
      usd: s.proxy ? proxyMonth(s.instanceClass) : 0,
    },
    {
      row: 'Secrets Manager endpoint',
      what: plural(s.secretsEndpointAzs, 'AZ'),
      usd: s.secretsEndpointAzs * INTERFACE_ENDPOINT_AZ_HOUR.usd * HOURS_PER_MONTH,
    },
    { row: 'secrets', what: String(s.secrets), usd: s.secrets * SECRET_MONTH.usd },
    {
      row: 'CloudWatch alarms',
      what: String(s.alarms.length),
      usd: s.alarms.length * ALARM_MONTH.usd,
    },
    { row: 'dashboards', what: String(s.dashboards), usd: s.dashboards * DASHBOARD_MONTH.usd },
  ];
}

/** The monthly cost of each stage, its switches, and the unit prices they rest on. */
export function costBlock(stages: readonly StackFigures[]): string {
  const lines = stages.map(costLines);
  const cell = (l: CostLine) => (l.usd > 0 ? `${l.what}: ${dollars(l.usd)}` : l.what);
  const rows: string[][] = lines[0].map((line, r) => [line.row, ...lines.map((ls) => cell(ls[r]))]);
  rows.push(
    ['Lambda, SNS, EventBridge, CloudWatch Logs, KMS', ...stages.map(() => 'per use')],
    [
      '**total before usage**',
      ...lines.map((ls) => `**${dollars(ls.reduce((sum, l) => sum + l.usd, 0))}**`),
    ],
    [
      'switch the proxy',
      ...stages.map((s) =>
        s.proxy
          ? `\`-c proxy=false\`: − ${dollars(proxyMonth(s.instanceClass))}`
          : `\`-c proxy=true\`: + ${dollars(proxyMonth(s.instanceClass))}`
      ),
    ],
    [
      'one more read replica',
      ...stages.map(
        (s) =>
          `\`-c readReplicas=${s.replicas.length + 1}\`: + ${dollars(replicaMonth(s, s.instanceClass))}`
      ),
    ]
  );
  const prices: [string, UnitPrice][] = [
    ...stages
      .map((s) => s.instanceClass)
      .filter((c, i, all) => all.indexOf(c) === i)
      .map((c): [string, UnitPrice] => [
        `\`${c}\``,
        lookup(RDS_INSTANCE_HOUR, c, 'instance-hour price'),
      ]),
    ['gp3', RDS_GP3_GB_MONTH],
    [`RDS Proxy (at least ${RDS_PROXY_MIN_VCPUS} vCPUs)`, RDS_PROXY_VCPU_HOUR],
    ['interface endpoint', INTERFACE_ENDPOINT_AZ_HOUR],
    ['secret', SECRET_MONTH],
    ['alarm (first 10 of an account free)', ALARM_MONTH],
    ['dashboard (first 3 of an account free)', DASHBOARD_MONTH],
  ];
  return [
    "Per month, on-demand in us-east-1, before usage (requests, data, logs, CPU credits): each stage's template times the unit prices below (`npm run docs:figures` rewrites this block).",
    formatMarkdownTable(['', ...stages.map((s) => s.stage)], rows, { alignRight: [] }),
    `Unit prices (${HOURS_PER_MONTH} hours a month; Multi-AZ bills the standby's hours and storage too, ×${MULTI_AZ_FACTOR}): ` +
      prices
        .map(
          ([what, p]) =>
            `${what} [${unitDollars(p.usd)} per ${p.unit}](${p.source}) (quoted ${p.quoted})`
        )
        .join('; ') +
      `. A NAT gateway, which this stack does without, would add [${dollars(NAT_GATEWAY_HOUR.usd * HOURS_PER_MONTH)} a month per AZ](${NAT_GATEWAY_HOUR.source}) before data.`,
  ].join('\n\n');
}

/** Every alarm of every stage: metric, what it watches, threshold per stage, window. */
export function alarmsBlock(stages: readonly StackFigures[]): string {
  const key = (a: AlarmFigure) =>
    `${a.metric}\u0000${a.on}\u0000${a.condition.split(' ')[0]}\u0000${a.window}`;
  const keys = [...new Set(stages.flatMap((s) => s.alarms.map(key)))];
  return [
    'Read from the stage defaults\' templates (`npm run docs:figures` rewrites this block); "—": the stage has no such alarm:',
    '',
    formatMarkdownTable(
      ['metric', 'on', 'fires after', ...stages.map((s) => s.stage)],
      keys.map((k) => {
        const [metric, on, , window] = k.split('\u0000');
        return [
          metric,
          on,
          window,
          ...stages.map((s) => s.alarms.find((a) => key(a) === k)?.condition ?? '—'),
        ];
      }),
      { alignRight: stages.map((_, i) => 3 + i) }
    ),
  ].join('\n');
}

/** A generated block: which file, between which markers, rendered how. */
export interface FigureBlock {
  /** Relative to the repository root. */
  readonly file: string;
  readonly name: string;
  readonly render: (stages: readonly StackFigures[]) => string;
}

export const FIGURE_BLOCKS: readonly FigureBlock[] = [
  { file: 'README.md', name: 'stack-figures', render: figuresBlock },
  { file: 'README.md', name: 'stack-cost', render: costBlock },
  { file: 'docs/operations.md', name: 'stack-alarms', render: alarmsBlock },
];

/** The stages whose defaults the docs state, in the order of their columns. */
export const DOCUMENTED_STAGES = ['sandbox', 'prod'] as const;
