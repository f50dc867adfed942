import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DbCredentials } from './config';
import { ConfigurationError, CredentialsUnavailableError } from './errors';
import { secretsManagerClient } from './secrets-manager-client';

/** Supplies database credentials; the connection layer asks for alternatives when denied. */
export interface CredentialsSource {
  /** Credentials to try first (cached when possible). */
  current(): Promise<DbCredentials>;
  /**
   * Credentials to try, in order, after `denied` was refused by the server. Each one is
   * freshly read; whichever works is remembered through `accepted`.
   */
  alternatives(denied: DbCredentials): AsyncIterable<DbCredentials>;
  /** Called with the credentials that just opened a connection. */
  accepted(credentials: DbCredentials): void;
  /** Reads from the secret store so far (metrics); absent for sources that read nothing. */
  readonly fetches?: number;
}

/** Fixed credentials (from DATABASE_URL): nothing to refresh. */
export class StaticCredentials implements CredentialsSource {
  constructor(private readonly credentials: DbCredentials) {}

  async current(): Promise<DbCredentials> {
    return this.credentials;
  }

  async *alternatives(): AsyncIterable<DbCredentials> {
    // A URL has no other version to fall back to.
  }

  accepted(): void {}
}

export interface SecretsManagerCredentialsOptions {
  /** @default - a client with short timeouts, so an outage fails fast instead of hanging */
  readonly client?: SecretsManagerClient;
  /** How long cached credentials are used before the secret is read again. @default 5 minutes */
  readonly ttlMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Credentials from a Secrets Manager secret in the RDS JSON format, cached with a TTL.
 * Safe at module scope: it holds a password, never a connection.
 *
 * Rotation: when the cached password is denied we re-read AWSCURRENT; if that is still denied
 * we try AWSPENDING, because single-user rotation sets the new password on the database a few
 * seconds before it promotes the pending version to AWSCURRENT.
 */
export class SecretsManagerCredentials implements CredentialsSource {
  private cached?: { credentials: DbCredentials; expiresAt: number };
  /** GetSecretValue calls so far, successful or not. */
  public fetches = 0;
  private readonly client: SecretsManagerClient;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly secretId: string,
    options: SecretsManagerCredentialsOptions = {}
  ) {
    this.client = options.client ?? secretsManagerClient();
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  async current(): Promise<DbCredentials> {
    if (this.cached && this.cached.expiresAt > this.now()) {
      return this.cached.credentials;
    }
    const credentials = await this.read('AWSCURRENT');
    if (!credentials) {
      throw new CredentialsUnavailableError(`Secret ${this.secretId} has no AWSCURRENT version.`);
    }
    this.accepted(credentials);
    return credentials;
  }

  async *alternatives(denied: DbCredentials): AsyncIterable<DbCredentials> {
    this.cached = undefined;
    const tried = [denied];
    for (const stage of ['AWSCURRENT', 'AWSPENDING'] as const) {
      const candidate = await this.read(stage);
      if (candidate && !tried.some((t) => same(t, candidate))) {
        tried.push(candidate);
        yield candidate;
      }
    }
  }

  accepted(credentials: DbCredentials): void {
    this.cached = { credentials, expiresAt: this.now() + this.ttlMs };
  }

  private async read(stage: 'AWSCURRENT' | 'AWSPENDING'): Promise<DbCredentials | undefined> {
    let secretString: string | undefined;
    this.fetches++;
    try {
      const result = await this.client.send(
        new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: stage })
      );
      secretString = result.SecretString;
    } catch (error) {
      const name = (error as Error).name;
      if (stage === 'AWSPENDING' && name === 'ResourceNotFoundException') {
        return undefined; // no rotation in progress
      }
      throw new CredentialsUnavailableError(
        `Could not read database secret ${this.secretId} (${stage}) from Secrets Manager: ` +
          `${name}: ${(error as Error).message}. Check the function's secretsmanager:GetSecretValue ` +
          'permission and that the Secrets Manager VPC endpoint is reachable.',
        { cause: error }
      );
    }
    return parseRdsSecret(this.secretId, secretString);
  }
}

/** Parses the RDS secret JSON (`host`, `port`, `username`, `password`, `dbname`). */
export function parseRdsSecret(secretId: string, secretString: string | undefined): DbCredentials {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(secretString ?? '');
  } catch {
    throw new ConfigurationError(`Secret ${secretId} is not JSON; expected the RDS secret format.`);
  }
  const { host, port, username, password, dbname } = value ?? {};
  if (typeof host !== 'string' || typeof username !== 'string' || typeof password !== 'string') {
    throw new ConfigurationError(
      `Secret ${secretId} lacks host, username or password; expected the RDS secret format.`
    );
  }
  return {
    host,
    port: port === undefined ? 3306 : Number(port),
    user: username,
    password,
    database: typeof dbname === 'string' && dbname ? dbname : 'app',
  };
}

function same(a: DbCredentials, b: DbCredentials): boolean {
  return a.user === b.user && a.password === b.password && a.host === b.host && a.port === b.port;
}
