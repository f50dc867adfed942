import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  GetAccountSettingsCommand,
  GetFunctionConcurrencyCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import {
  DescribeDBEngineVersionsCommand,
  DescribeDBProxiesCommand,
  DescribeOrderableDBInstanceOptionsCommand,
  OrderableDBInstanceOption,
  RDSClient,
} from '@aws-sdk/client-rds';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { LAMBDA_UNRESERVED_MINIMUM } from '../figures/stack-figures';
import { checkEngineVersions } from './engine-versions';
import { stackResources } from './stack-resources';
import { DatabaseFacts, StageFacts } from './stage-facts';

export interface PreflightClients {
  readonly lambda: LambdaClient;
  readonly cloudFormation: CloudFormationClient;
  readonly rds: RDSClient;
  readonly ssm: SSMClient;
}

export interface CheckResult {
  readonly check: string;
  readonly ok: boolean;
  /** What was found, and on FAIL what to do. */
  readonly message: string;
}

/** A reason not to run the checks at all (no region, no credentials); printed as one line. */
export class PreflightError extends Error {
  readonly name = 'PreflightError';
}

/** The plain-words report `npm run preflight` prints: one line per check, then the verdict. */
export function formatReport(
  /** The context switches checked, to repeat to `cdk deploy`: `-c stage=sandbox -c proxy=true`. */
  switches: string,
  stackName: string,
  region: string,
  results: readonly CheckResult[]
): string {
  const lines = results.map((r) => `${r.ok ? 'OK  ' : 'FAIL'}  ${r.check}: ${r.message}`);
  const verdict = results.every((r) => r.ok)
    ? `The deploy can succeed: npx cdk deploy ${switches}`
    : `Not ready to deploy: fix each FAIL above, then run npm run preflight -- ${switches} again.`;
  return [`Preflight for ${stackName} in ${region}:`, ...lines, verdict].join('\n');
}

/** Runs every check against the account and region of `clients`; never throws for a failed check. */
export async function runPreflight(
  clients: PreflightClients,
  facts: StageFacts
): Promise<{ region: string; results: CheckResult[] }> {
  const region = await requireRegionAndCredentials(clients.lambda);
  const results = [
    await guarded('Lambda concurrency', () => checkConcurrency(clients, facts, region)),
    ...(await Promise.all(
      facts.databases.map((db) =>
        guarded(`RDS ${db.engine} ${db.engineVersion} on ${db.instanceClass}`, () =>
          checkDatabase(clients.rds, db, region)
        )
      )
    )),
    await guarded('Engine versions of the running instances', () =>
      checkEngineVersions(clients, facts.stackName, facts.databases)
    ),
    await guarded('CDK bootstrap', () => checkBootstrap(clients.ssm, facts, region)),
    ...(await Promise.all(
      (facts.proxies ?? []).map((proxy) =>
        guarded(`RDS Proxy ${proxy.engineFamily}`, () =>
          checkProxy(clients.rds, facts.databases, region)
        )
      )
    )),
  ];
  return { region, results };
}

/** The region the clients use; a PreflightError with a one-line instruction when it or credentials are missing. */
export async function requireRegionAndCredentials(client: LambdaClient): Promise<string> {
  let region: string;
  try {
    region = await client.config.region();
  } catch {
    region = '';
  }
  if (!region) {
    throw new PreflightError(
      'No AWS region set: run `npm run preflight -- --region eu-west-1`, or set AWS_REGION (or a region in your AWS_PROFILE).'
    );
  }
  try {
    await client.config.credentials();
  } catch {
    throw new PreflightError(
      'No AWS credentials found: run `aws configure` or `aws sso login`, or set AWS_PROFILE, then `npm run preflight` again.'
    );
  }
  return region;
}

async function guarded(check: string, run: () => Promise<Omit<CheckResult, 'check'>>) {
  try {
    return { check, ...(await run()) };
  } catch (error) {
    const { name, message } = error as Error;
    const hint = /AccessDenied|not authorized|UnauthorizedOperation/i.test(`${name} ${message}`)
      ? ' Your credentials may not make this call; use a role that may deploy the stack.'
      : '';
    return { check, ok: false, message: `could not check: ${name}: ${message}.${hint}` };
  }
}

async function checkConcurrency(
  clients: PreflightClients,
  facts: StageFacts,
  region: string
): Promise<Omit<CheckResult, 'check'>> {
  const { AccountLimit: limit } = await clients.lambda.send(new GetAccountSettingsCommand({}));
  const total = limit?.ConcurrentExecutions ?? 0;
  const unreserved = limit?.UnreservedConcurrentExecutions ?? 0;
  const wanted = facts.reservations.reduce((sum, f) => sum + f.reserved, 0);
  // On an update the stack's functions already hold their reservations: only the difference is new.
  const held = await reservationsHeld(clients, facts.stackName);
  const left = unreserved + held - wanted;
  const found =
    `the stack reserves ${wanted} (${facts.reservations.map((f) => `${f.id} ${f.reserved}`).join(', ')})` +
    `${held > 0 ? `, of which it already holds ${held}` : ''}; the account's limit is ${total}, ` +
    `${unreserved} of it unreserved, so ${left} would stay unreserved (Lambda requires ${LAMBDA_UNRESERVED_MINIMUM}).`;
  if (left >= LAMBDA_UNRESERVED_MINIMUM) return { ok: true, message: found };
  const desired = total + (LAMBDA_UNRESERVED_MINIMUM - left);
  return {
    ok: false,
    message:
      `${found} The deploy would fail. Ask for a concurrency limit of at least ${desired}: ` +
      `aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384 ` +
      `--desired-value ${desired} --region ${region} (new accounts often start at 10 or 50), ` +
      'or remove reserved concurrency from other functions in this region.',
  };
}

/** Reserved concurrency the stack's existing functions hold now (0 for a stack not yet deployed). */
async function reservationsHeld(clients: PreflightClients, stackName: string): Promise<number> {
  const functions = await stackResources(
    clients.cloudFormation,
    stackName,
    'AWS::Lambda::Function'
  );
  let held = 0;
  for (const { PhysicalResourceId } of functions) {
    try {
      const { ReservedConcurrentExecutions } = await clients.lambda.send(
        new GetFunctionConcurrencyCommand({ FunctionName: PhysicalResourceId })
      );
      held += ReservedConcurrentExecutions ?? 0;
    } catch (error) {
      if ((error as Error).name !== 'ResourceNotFoundException') throw error;
    }
  }
  return held;
}

async function checkDatabase(
  rds: RDSClient,
  db: DatabaseFacts,
  region: string
): Promise<Omit<CheckResult, 'check'>> {
  // A major-only version (8.4) is created at RDS's default minor for it; DefaultOnly finds that.
  const majorOnly = db.engineVersion.split('.').length < 3;
  const { DBEngineVersions: versions = [] } = await rds.send(
    new DescribeDBEngineVersionsCommand({
      Engine: db.engine,
      EngineVersion: db.engineVersion,
      DefaultOnly: majorOnly || undefined,
    })
  );
  const version = versions.find((v) => v.Status !== 'deprecated')?.EngineVersion;
  if (!version) {
    return {
      ok: false,
      message:
        `RDS does not offer ${db.engine} ${db.engineVersion} for new instances in ${region}. See the versions it does: ` +
        `aws rds describe-db-engine-versions --engine ${db.engine} --query "DBEngineVersions[].EngineVersion" ` +
        `--region ${region}; then set the engine version in lib/database.ts.`,
    };
  }
  const options: OrderableDBInstanceOption[] = [];
  let Marker: string | undefined;
  do {
    const page = await rds.send(
      new DescribeOrderableDBInstanceOptionsCommand({
        Engine: db.engine,
        EngineVersion: version,
        DBInstanceClass: db.instanceClass,
        Vpc: true,
        Marker,
      })
    );
    options.push(...(page.OrderableDBInstanceOptions ?? []));
    Marker = page.Marker;
  } while (Marker);
  const fits = options.filter(
    (o) =>
      (!db.multiAz || o.MultiAZCapable) && (!db.storageType || o.StorageType === db.storageType)
  );
  const wanted = `${db.instanceClass}${db.storageType ? ` with ${db.storageType} storage` : ''}${db.multiAz ? ', Multi-AZ' : ''}`;
  if (fits.length > 0) {
    return {
      ok: true,
      message: `${db.engine} ${version} can be created as ${wanted} in ${region}.`,
    };
  }
  return {
    ok: false,
    message:
      `RDS cannot create ${db.engine} ${version} as ${wanted} in ${region}. See the classes it offers: ` +
      `aws rds describe-orderable-db-instance-options --engine ${db.engine} --engine-version ${version} ` +
      `--query "OrderableDBInstanceOptions[].[DBInstanceClass,StorageType,MultiAZCapable]" --region ${region}; ` +
      'then change instanceType in lib/stage-config.ts (and instanceMemoryMiB with it).',
  };
}

async function checkBootstrap(
  ssm: SSMClient,
  facts: StageFacts,
  region: string
): Promise<Omit<CheckResult, 'check'>> {
  const { parameter, minVersion } = facts.bootstrap;
  const bootstrap = `npx cdk bootstrap --region ${region}`;
  let value: string | undefined;
  try {
    value = (await ssm.send(new GetParameterCommand({ Name: parameter }))).Parameter?.Value;
  } catch (error) {
    if ((error as Error).name !== 'ParameterNotFound') throw error;
    return {
      ok: false,
      message: `This account and region are not bootstrapped for the CDK (no SSM parameter ${parameter}). Run: ${bootstrap}`,
    };
  }
  const version = Number(value);
  if (!Number.isInteger(version) || version < minVersion) {
    return {
      ok: false,
      message: `The CDK bootstrap stack is version ${value}; this app needs ${minVersion} or later. Run: ${bootstrap}`,
    };
  }
  return {
    ok: true,
    message: `bootstrap version ${version} (this app needs ${minVersion} or later).`,
  };
}

/**
 * RDS Proxies a region allows an account by default: "Each AWS account ID is limited to 20
 * proxies" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.html, quotas and
 * limitations; raised through Service Quotas).
 */
export const DEFAULT_PROXY_QUOTA = 20;

const PROXY_ENGINES_PAGE =
  'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.RDS_Fea_Regions_DB-eng.Feature.RDSProxy.html';

/**
 * What the API can tell about an RDS Proxy before the deploy: that the region answers the RDS
 * Proxy API (DescribeDBProxies) and how many proxies the account already has there, against the
 * default quota. RDS documents no API field that says "RDS Proxy supports this engine
 * version and instance class in this region": that stays the documentation's table.
 */
async function checkProxy(
  rds: RDSClient,
  databases: readonly DatabaseFacts[],
  region: string
): Promise<Omit<CheckResult, 'check'>> {
  let existing = 0;
  let Marker: string | undefined;
  try {
    do {
      const page = await rds.send(new DescribeDBProxiesCommand({ Marker }));
      existing += page.DBProxies?.length ?? 0;
      Marker = page.Marker;
    } while (Marker);
  } catch (error) {
    const { name, message } = error as Error;
    if (/AccessDenied|not authorized/i.test(`${name} ${message}`)) throw error;
    return {
      ok: false,
      message:
        `RDS Proxy does not answer in ${region} (${name}: ${message}). See ${PROXY_ENGINES_PAGE} for ` +
        'the regions that offer it, or deploy with -c proxy=false.',
    };
  }
  if (existing >= DEFAULT_PROXY_QUOTA) {
    return {
      ok: false,
      message:
        `the account already has ${existing} RDS Proxies in ${region}; the default quota is ` +
        `${DEFAULT_PROXY_QUOTA}. Check yours: aws service-quotas list-service-quotas --service-code rds ` +
        `--region ${region} (look for Proxies), ask for more, or deploy with -c proxy=false.`,
    };
  }
  const primary = databases[0];
  const engine = primary
    ? `${primary.engine} ${primary.engineVersion} on ${primary.instanceClass}`
    : 'the engine';
  return {
    ok: true,
    message:
      `${region} answers the RDS Proxy API; the account has ${existing} of ${DEFAULT_PROXY_QUOTA} proxies ` +
      `(default quota). No RDS API field says whether RDS Proxy supports ${engine} here ` +
      `(DescribeDBEngineVersions' SupportedFeatureNames documents no proxy feature): check ` +
      `${region}'s row in ${PROXY_ENGINES_PAGE}.`,
  };
}
