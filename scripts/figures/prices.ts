/**
 * The unit prices and instance-class facts the README's cost tables multiply with the
 * synthesized templates (scripts/figures/stack-figures.ts). On-demand, us-east-1, USD. Each
 * price names its page and the date this repository quoted it; the build machine has no
 * internet, so re-read the pages and update price and date together.
 */

/** A month of instance-hours, as AWS's pricing pages count it. */
export const HOURS_PER_MONTH = 730;

export interface UnitPrice {
  readonly usd: number;
  readonly unit: string;
  readonly source: string;
  /** When this repository last quoted the page (YYYY-MM-DD). */
  readonly quoted: string;
}

const RDS_MYSQL = 'https://aws.amazon.com/rds/mysql/pricing/';

/** RDS for MySQL single-AZ instance-hours, by class. */
export const RDS_INSTANCE_HOUR: Readonly<Record<string, UnitPrice>> = {
  'db.t4g.micro': { usd: 0.016, unit: 'instance-hour', source: RDS_MYSQL, quoted: '2026-11-25' },
  'db.t4g.medium': { usd: 0.065, unit: 'instance-hour', source: RDS_MYSQL, quoted: '2026-11-27' },
};

/** gp3 storage, single-AZ. */
export const RDS_GP3_GB_MONTH: UnitPrice = {
  usd: 0.115,
  unit: 'GB-month',
  source: RDS_MYSQL,
  quoted: '2026-11-25',
};

/**
 * A Multi-AZ instance bills instance-hours and storage for the primary and the standby
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_OnDemandDBInstances.html).
 */
export const MULTI_AZ_FACTOR = 2;

/** RDS Proxy, per vCPU of the instance behind it, at least 2 vCPUs. */
export const RDS_PROXY_VCPU_HOUR: UnitPrice = {
  usd: 0.015,
  unit: 'vCPU-hour',
  source: 'https://aws.amazon.com/rds/proxy/pricing/',
  quoted: '2026-11-27',
};
export const RDS_PROXY_MIN_VCPUS = 2;

/** An interface VPC endpoint, per AZ (one ENI per subnet); data processed is usage, not counted. */
export const INTERFACE_ENDPOINT_AZ_HOUR: UnitPrice = {
  usd: 0.01,
  unit: 'endpoint-AZ-hour',
  source: 'https://aws.amazon.com/privatelink/pricing/',
  quoted: '2026-11-25',
};

/** A NAT gateway, per hour: what the isolated subnets avoid (data processed not counted). */
export const NAT_GATEWAY_HOUR: UnitPrice = {
  usd: 0.045,
  unit: 'gateway-hour',
  source: 'https://aws.amazon.com/vpc/pricing/',
  quoted: '2026-11-25',
};

export const SECRET_MONTH: UnitPrice = {
  usd: 0.4,
  unit: 'secret-month',
  source: 'https://aws.amazon.com/secrets-manager/pricing/',
  quoted: '2026-11-25',
};

const CLOUDWATCH = 'https://aws.amazon.com/cloudwatch/pricing/';

/** A standard-resolution alarm on one metric (an account's first 10 are free). */
export const ALARM_MONTH: UnitPrice = {
  usd: 0.1,
  unit: 'alarm metric-month',
  source: CLOUDWATCH,
  quoted: '2026-11-25',
};

/** A custom dashboard (an account's first 3 are free). */
export const DASHBOARD_MONTH: UnitPrice = {
  usd: 3,
  unit: 'dashboard-month',
  source: CLOUDWATCH,
  quoted: '2026-11-25',
};

export interface InstanceClassFacts {
  readonly vcpus: number;
  /** Baseline CPU of a burstable class, per vCPU (0..1); absent for fixed-performance classes. */
  readonly baselinePerVcpu?: number;
}

/**
 * vCPUs: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html;
 * T4g baselines (10 % for micro, 20 % for medium, per vCPU):
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html
 */
export const INSTANCE_CLASSES: Readonly<Record<string, InstanceClassFacts>> = {
  'db.t4g.micro': { vcpus: 2, baselinePerVcpu: 0.1 },
  'db.t4g.medium': { vcpus: 2, baselinePerVcpu: 0.2 },
};

/** The facts of `instanceClass`, or an error that says where to add them. */
export function lookup<T>(
  table: Readonly<Record<string, T>>,
  instanceClass: string,
  what: string
): T {
  const value = Object.prototype.hasOwnProperty.call(table, instanceClass)
    ? table[instanceClass]
    : undefined;
  if (value === undefined) {
    throw new Error(
      `No ${what} for ${instanceClass} in scripts/figures/prices.ts: add it (with its source page and date), then run npm run docs:figures.`
    );
  }
  return value;
}
