import { DbCredentials, readDatabaseConfig, TlsSettings } from './config';
import { CredentialsSource } from './credentials';
import { ConfigurationError } from './errors';

/**
 * Where the reader's replicas are. Deployed: `DB_REPLICA_HOSTS`, comma-separated endpoints that
 * take the primary's users, secrets and port (RDS replicas copy the primary's users, and the
 * reader's secret holds the primary's host, which is replaced per replica). Locally:
 * `DATABASE_REPLICA_URL`, comma-separated mysql:// URLs read like DATABASE_URL (same `?tls=true`
 * and DB_TLS_CA_FILE). Neither set: no replica, every read goes to the primary.
 */
export type ReplicaConfig =
  | { readonly kind: 'hosts'; readonly hosts: readonly string[] }
  | {
      readonly kind: 'urls';
      readonly replicas: readonly { credentials: DbCredentials; tls?: TlsSettings }[];
    };

// An RDS endpoint or an IP address: letters, digits, dots and dashes, nothing to inject.
const HOST = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/;

export function readReplicaConfig(env: NodeJS.ProcessEnv = process.env): ReplicaConfig | undefined {
  if (env.DB_REPLICA_HOSTS !== undefined && env.DB_REPLICA_HOSTS.trim() !== '') {
    const hosts = splitList(env.DB_REPLICA_HOSTS);
    for (const host of hosts) {
      if (!HOST.test(host)) {
        throw new ConfigurationError(
          `DB_REPLICA_HOSTS holds "${host}", which is not a host name: set it to the replicas' ` +
            'endpoints, comma-separated (e.g. db-replica-1.abc.eu-west-1.rds.amazonaws.com), ' +
            'or leave it empty to read from the primary only.'
        );
      }
    }
    return { kind: 'hosts', hosts };
  }
  if (env.DATABASE_REPLICA_URL !== undefined && env.DATABASE_REPLICA_URL.trim() !== '') {
    const replicas = splitList(env.DATABASE_REPLICA_URL).map((url) => {
      const config = readDatabaseConfig({ ...env, DB_SECRET_ARN: undefined, DATABASE_URL: url });
      if (config.kind !== 'url') {
        throw new ConfigurationError('DATABASE_REPLICA_URL must hold mysql:// URLs.');
      }
      return { credentials: config.credentials, tls: config.tls };
    });
    return { kind: 'urls', replicas };
  }
  return undefined;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/**
 * The primary's credentials source with the host replaced by a replica's: same users, same
 * passwords, same rotation (a denied password is re-read from the primary's secret). Settings
 * are never re-read for an unreachable replica: its host comes from the environment, so the
 * secret cannot fix it, and the primary's rate-limited re-reads must stay available to it.
 */
export class ReplicaCredentials implements CredentialsSource {
  private readonly originals = new WeakMap<DbCredentials, DbCredentials>();

  constructor(
    private readonly primary: CredentialsSource,
    private readonly host: string
  ) {}

  get fetches(): number | undefined {
    return this.primary.fetches;
  }

  async current(): Promise<DbCredentials> {
    return this.onReplica(await this.primary.current());
  }

  async *alternatives(denied: DbCredentials): AsyncIterable<DbCredentials> {
    for await (const candidate of this.primary.alternatives(this.original(denied))) {
      yield this.onReplica(candidate);
    }
  }

  accepted(credentials: DbCredentials): void {
    this.primary.accepted(this.original(credentials));
  }

  async reread(): Promise<undefined> {
    return undefined;
  }

  private onReplica(credentials: DbCredentials): DbCredentials {
    const mapped = { ...credentials, host: this.host };
    this.originals.set(mapped, credentials);
    return mapped;
  }

  private original(credentials: DbCredentials): DbCredentials {
    return this.originals.get(credentials) ?? credentials;
  }
}
