import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/**
 * Everything that differs between stages, in one typed object. Constructs take plain props; only
 * `bin/app.ts` reads a stage, so there is no `if (stage === 'prod')` anywhere else.
 */
export interface StageConfig {
  /** Stage name, used in the stack name. */
  readonly name: string;
  /** RDS instance class, without the `db.` prefix. */
  readonly instanceType: string;
  /** Nominal memory of `instanceType` in MiB: the connection budget and the memory alarm derive from it. */
  readonly instanceMemoryMiB: number;
  /** A standby in a second AZ. */
  readonly multiAz: boolean;
  /** Allocated gp3 storage in GiB (20 is the minimum for MySQL on gp3). */
  readonly allocatedStorageGiB: number;
  /** Storage autoscaling ceiling in GiB. */
  readonly maxAllocatedStorageGiB: number;
  /** Automated backup retention. */
  readonly backupRetention: Duration;
  /** Blocks deletion of the instance through the API and CloudFormation. */
  readonly deletionProtection: boolean;
  /** What `cdk destroy` does with the database: DESTROY or SNAPSHOT. */
  readonly databaseRemovalPolicy: RemovalPolicy;
  /** Retention of the function, database and flow-log log groups. */
  readonly logRetention: RetentionDays;
  /** AZs that get a Secrets Manager endpoint ENI (each costs about $7.30 a month). */
  readonly secretsEndpointAzs: number;
  /** CloudFormation refuses to delete the stack until this is turned off. */
  readonly terminationProtection: boolean;
  /**
   * Functions reach the instance through an RDS Proxy (lib/database-proxy.ts); `-c proxy=true|false`
   * overrides it. Its monthly cost: README, "Cost" (generated).
   */
  readonly proxy: boolean;
  /**
   * RDS read replicas of the instance's class, for the reader's `minVersion` and eventual reads
   * (docs/proxy-and-replicas.md); `-c readReplicas=N` overrides it.
   */
  readonly readReplicas: number;
  /**
   * Engine version of the read replicas, for the first deploy of a minor upgrade: replicas go
   * before their source (docs/upgrades.md). `-c replicaEngineVersion=8.4.x` sets it.
   * @default - the primary's (MYSQL_ENGINE_VERSION)
   */
  readonly replicaEngineVersion?: string;
}

export const STAGES: Readonly<Record<string, StageConfig>> = {
  /** Smallest and cheapest; `cdk destroy` removes everything. */
  sandbox: {
    name: 'sandbox',
    instanceType: 't4g.micro',
    instanceMemoryMiB: 1024,
    multiAz: false,
    allocatedStorageGiB: 20,
    maxAllocatedStorageGiB: 50,
    backupRetention: Duration.days(1),
    deletionProtection: false,
    databaseRemovalPolicy: RemovalPolicy.DESTROY,
    logRetention: RetentionDays.ONE_WEEK,
    secretsEndpointAzs: 1,
    terminationProtection: false,
    proxy: false,
    readReplicas: 0,
  },
  /** Highly available and hard to delete by accident. */
  prod: {
    name: 'prod',
    instanceType: 't4g.medium',
    instanceMemoryMiB: 4096,
    multiAz: true,
    allocatedStorageGiB: 50,
    maxAllocatedStorageGiB: 500,
    backupRetention: Duration.days(14),
    deletionProtection: true,
    databaseRemovalPolicy: RemovalPolicy.SNAPSHOT,
    logRetention: RetentionDays.THREE_MONTHS,
    secretsEndpointAzs: 2,
    terminationProtection: true,
    proxy: true,
    readReplicas: 1,
  },
};

/** The config of `stage`, or an error that lists the stages there are. */
export function stageConfig(stage: string): StageConfig {
  const config = Object.prototype.hasOwnProperty.call(STAGES, stage) ? STAGES[stage] : undefined;
  if (!config) {
    throw new Error(
      `Unknown stage "${stage}". Use one of: ${Object.keys(STAGES).join(', ')} ` +
        '(e.g. `npx cdk deploy -c stage=sandbox`), or add yours to lib/stage-config.ts.'
    );
  }
  return config;
}

/** `config` with the `-c proxy=true|false` switch applied, or an error naming the bad value. */
export function withProxySwitch(config: StageConfig, value: unknown): StageConfig {
  if (value === undefined || value === null || value === '') {
    return config;
  }
  const text = String(value);
  if (text !== 'true' && text !== 'false') {
    throw new Error(
      `-c proxy must be true or false, got "${text}" (e.g. \`npx cdk synth -c proxy=true\`).`
    );
  }
  return { ...config, proxy: text === 'true' };
}

/**
 * `-c readReplicas=N` on top of the stage's setting: a whole number from 0 to 15, else an error
 * that says what to pass.
 */
export function withReadReplicas(config: StageConfig, value: unknown): StageConfig {
  if (value === undefined) {
    return config;
  }
  const count = typeof value === 'number' ? value : Number(String(value).trim() || NaN);
  if (!Number.isInteger(count) || count < 0 || count > 15) {
    throw new Error(
      `-c readReplicas=${String(value)} is not a whole number from 0 to 15 (RDS for MySQL allows ` +
        '15 replicas per source). Pass e.g. -c readReplicas=1, or 0 for none.'
    );
  }
  return { ...config, readReplicas: count };
}

/**
 * `-c replicaEngineVersion=8.4.x`: the replicas' engine version for the first step of an upgrade
 * (docs/upgrades.md); whether it may run next to the primary's is checked by ReadReplicas.
 */
export function withReplicaEngineVersion(config: StageConfig, value: unknown): StageConfig {
  if (value === undefined || value === null || value === '') {
    return config;
  }
  const version = String(value).trim();
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(
      `-c replicaEngineVersion=${String(value)} is not a full MySQL version. Pass e.g. ` +
        '-c replicaEngineVersion=8.4.11 (docs/upgrades.md).'
    );
  }
  return { ...config, replicaEngineVersion: version };
}
