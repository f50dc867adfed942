import { ColdStartTracker } from './cold-start';
import { readDatabaseConfig } from './config';
import { SqlConnection } from './connection';
import { CredentialsSource, SecretsManagerCredentials, StaticCredentials } from './credentials';
import { Database, DatabaseOptions } from './database';
import { prepareDataPath } from './init-preparation';
import { emfSink } from './metrics';
import { ReadTargets } from './read-routing';
import { readReplicaConfig, ReplicaCredentials } from './replica-config';

// Module scope, shared by the invocations of one execution environment: configuration and the
// credentials cache only. No connection lives here; Database opens one per invocation.
let database: Database | undefined;

/** This environment's first invocation and how its init preparation went (the metrics line). */
const coldStart = new ColdStartTracker();

/**
 * The environment's Database, built on first use from DB_SECRET_ARN / DATABASE_URL, so a missing
 * variable is reported as a ConfigurationError by the invocation instead of crashing the init.
 */
export function databaseFromEnvironment(): Database {
  database ??= createDatabase();
  return database;
}

/** A Database configured from DB_SECRET_ARN / DATABASE_URL, with `options` on top (timeouts). */
export function createDatabase(
  options: Omit<DatabaseOptions, 'credentials' | 'tls'> = {}
): Database {
  return createDatabases(options, false).primary;
}

let readTargets: ReadTargets | undefined;

/** The reader's primary and replicas (DB_REPLICA_HOSTS / DATABASE_REPLICA_URL), built once. */
export function readTargetsFromEnvironment(): ReadTargets {
  readTargets ??= createDatabases();
  return readTargets;
}

/** The primary and every replica: each instance the reader's reads can go to. */
export function everyReadTarget(): Database[] {
  const { primary, replicas } = readTargetsFromEnvironment();
  return [primary, ...replicas];
}

function createDatabases(
  options: Omit<DatabaseOptions, 'credentials' | 'tls'> = {},
  withReplicas = true
): ReadTargets {
  const config = readDatabaseConfig();
  const credentials: CredentialsSource =
    config.kind === 'secret'
      ? new SecretsManagerCredentials(config.secretId, { host: config.proxyHost })
      : new StaticCredentials(config.credentials);
  const sink = emfSink();
  const onMetrics: DatabaseOptions['onMetrics'] =
    sink && ((metrics, context) => sink({ ...metrics, ...coldStart.of(context) }));
  const make = (source: CredentialsSource, tls = config.tls) =>
    new Database({ onMetrics, ...options, credentials: source, tls });
  const replicaConfig = withReplicas ? readReplicaConfig() : undefined;
  // One credentials cache for all instances: a replica's host replaces the primary's.
  const replicas =
    replicaConfig?.kind === 'hosts'
      ? replicaConfig.hosts.map((host) =>
          make(
            new ReplicaCredentials(credentials, host),
            config.kind === 'secret' ? config.replicaTls : config.tls
          )
        )
      : (replicaConfig?.replicas ?? []).map((r) =>
          make(new StaticCredentials(r.credentials), r.tls)
        );
  return { primary: make(credentials), replicas };
}

/**
 * Lambda's init phase: reads the credentials of `databases()`, then runs `work` once on a
 * connection of its own to each of them and closes it (init-preparation.ts), so that the first
 * invocation of an environment resumes a TLS session and runs compiled code instead of paying for
 * both on the memory size's CPU share. The handler modules `await` it at their top level (they
 * are ES modules, and Lambda finishes an ES module's top-level await before it reports the
 * environment initialised:
 * https://aws.amazon.com/blogs/compute/using-node-js-es-modules-and-top-level-await-in-aws-lambda/).
 * Work done there runs before the first request waits, and on-demand functions initialise on a
 * full vCPU whatever their memory size (AWS Serverless Land, "Utilize initialization phase":
 * https://serverlessland.com/content/service/lambda/guides/effectively-running-java-on-serverless/init-heavy-lifting),
 * where the first invocation runs on the memory size's share (1/7 of a vCPU at 256 MB).
 *
 * No connection outlives the init: the preparation's is closed before this resolves.
 * Never rejects, and is bounded: a missing configuration, an unreachable Secrets Manager (its
 * client's own timeouts, secrets-manager-client.ts) or a database that refuses or is slow
 * (PREPARATION_BUDGET_MS) is left for the invocation to report with its usual error.
 */
export async function prepareForFirstInvocation(
  databases: () => readonly Database[],
  work: (connection: SqlConnection) => Promise<unknown>
): Promise<void> {
  coldStart.preparation = await prepareDataPath(databases, work);
}
