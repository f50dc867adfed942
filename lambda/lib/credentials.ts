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
  /**
   * Called when `stale` reached no database (wrong host or port, say). Resolves with freshly
   * read settings when they differ and the source was not read too recently; else undefined.
   */
  reread(stale: DbCredentials): Promise<DbCredentials | undefined>;
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

  async reread(): Promise<undefined> {
    return undefined; // a URL is what it is
  }
}

export interface SecretsManagerCredentialsOptions {
  /** @default - a client with short timeouts, so an outage fails fast instead of hanging */
  readonly client?: SecretsManagerClient;
  /** How long cached credentials are used before the secret is read again. @default 5 minutes */
  readonly ttlMs?: number;
  /**
   * Least time between two reads of the secret caused by an unreachable database, per
   * environment: an outage must not turn every invocation into a Secrets Manager call.
   * @default 30 seconds
   */
  readonly unreachableRereadIntervalMs?: number;
  /**
   * After a round of reads caused by a refused login found no credentials that work, how long
   * later refusals in this environment read the secret again: a denial storm (a password no
   * version holds) must not turn every invocation into three Secrets Manager calls. Until then
   * a refused login tries the versions already read, without reading again.
   * @default 30 seconds
   */
  readonly deniedRereadIntervalMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * Host to connect to instead of the secret's (an RDS Proxy endpoint, DB_PROXY_HOST): the
   * secret's host is the instance, which the functions may not reach when a proxy fronts it.
   * @default - the secret's host
   */
  readonly host?: string;
}

/** The versions a denied login falls back to, in order (see SecretsManagerCredentials). */
const FALLBACK_STAGES = ['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING'] as const;
type Stage = (typeof FALLBACK_STAGES)[number];

/**
 * Credentials from a Secrets Manager secret in the RDS JSON format, cached with a TTL.
 * Safe at module scope: it holds a password, never a connection.
 *
 * Rotation (alternating users, lambda/lib/rotation.ts): when the cached credentials are denied,
 * the function tries AWSCURRENT (the rotation finished since we cached), then AWSPREVIOUS (an
 * RDS Proxy still holds the version before: it authenticates clients against its own cached
 * AWSCURRENT until it re-reads the secret, https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-secrets-arns.html),
 * then AWSPENDING (the database already has the pending credentials: a single-user rotation
 * between setSecret and finishSecret). Versions never change once written, only their labels
 * move, so what earlier reads returned stays a candidate, tried first without a Secrets Manager
 * call. A round of reads that found nothing that works holds further rounds off for
 * `deniedRereadIntervalMs`: a refusal that no version cures costs each environment at most three
 * reads per interval, while a rotation (whose versions do work) is followed at once.
 */
export class SecretsManagerCredentials implements CredentialsSource {
  private cached?: { credentials: DbCredentials; expiresAt: number };
  /** GetSecretValue calls so far, successful or not. */
  public fetches = 0;
  private readonly client: SecretsManagerClient;
  private readonly ttlMs: number;
  private readonly rereadIntervalMs: number;
  private readonly deniedRereadIntervalMs: number;
  private readonly now: () => number;
  private lastReadAt = -Infinity;
  /** When the last round of reads after a denial started that found nothing that works. */
  private lastFailedRoundAt = -Infinity;
  /** What each stage held when last read (undefined: no such version then). */
  private readonly lastRead = new Map<Stage, DbCredentials | undefined>();
  private readonly host?: string;

  constructor(
    private readonly secretId: string,
    options: SecretsManagerCredentialsOptions = {}
  ) {
    this.client = options.client ?? secretsManagerClient();
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.rereadIntervalMs = options.unreachableRereadIntervalMs ?? 30_000;
    this.deniedRereadIntervalMs = options.deniedRereadIntervalMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.host = options.host;
  }

  async current(): Promise<DbCredentials> {
    if (this.cached && this.cached.expiresAt > this.now()) {
      return this.cached.credentials;
    }
    const credentials = await this.read('AWSCURRENT');
    if (!credentials) {
      throw new CredentialsUnavailableError(`Secret ${this.secretId} has no AWSCURRENT version.`);
    }
    // Cached, but not "accepted": a denial storm's hold-off stays until a login works.
    this.cached = { credentials, expiresAt: this.now() + this.ttlMs };
    return credentials;
  }

  async *alternatives(denied: DbCredentials): AsyncIterable<DbCredentials> {
    // The cache is kept until a candidate works (accepted): emptying it here would make every
    // later invocation of a denial storm read AWSCURRENT again.
    const tried = [denied];
    const untried = (candidate: DbCredentials | undefined): candidate is DbCredentials => {
      if (!candidate || tried.some((t) => same(t, candidate))) return false;
      tried.push(candidate);
      return true;
    };
    // First what the last reads returned: no Secrets Manager call.
    for (const stage of FALLBACK_STAGES) {
      const known = this.lastRead.get(stage);
      if (untried(known)) yield known;
    }
    if (this.now() - this.lastFailedRoundAt >= this.deniedRereadIntervalMs) {
      // Counted as failed until a candidate is accepted (accepted() clears it).
      this.lastFailedRoundAt = this.now();
      for (const stage of FALLBACK_STAGES) {
        const candidate = await this.read(stage);
        if (untried(candidate)) yield candidate;
      }
    }
    // Last, AWSCURRENT once more, even if it was refused a moment ago: an RDS Proxy re-reads its
    // secrets on its own schedule (a login with another candidate may have set it off), after
    // which the current version is the one it accepts. One more login, no Secrets Manager call.
    const current = this.lastRead.get('AWSCURRENT');
    if (current) yield current;
  }

  accepted(credentials: DbCredentials): void {
    this.cached = { credentials, expiresAt: this.now() + this.ttlMs };
    this.lastFailedRoundAt = -Infinity;
  }

  async reread(stale: DbCredentials): Promise<DbCredentials | undefined> {
    if (this.now() - this.lastReadAt < this.rereadIntervalMs) {
      return undefined;
    }
    const fresh = await this.read('AWSCURRENT');
    if (!fresh || same(fresh, stale)) {
      return undefined;
    }
    // Cached only once it opens a connection (accepted); until then the next invocation asks again.
    this.cached = undefined;
    return fresh;
  }

  private async read(stage: Stage): Promise<DbCredentials | undefined> {
    let secretString: string | undefined;
    this.lastReadAt = this.now();
    this.fetches++;
    try {
      const result = await this.client.send(
        new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: stage })
      );
      secretString = result.SecretString;
    } catch (error) {
      const name = (error as Error).name;
      if (stage !== 'AWSCURRENT' && name === 'ResourceNotFoundException') {
        this.lastRead.set(stage, undefined);
        return undefined; // no rotation in progress (AWSPENDING), or none yet (AWSPREVIOUS)
      }
      throw new CredentialsUnavailableError(
        `Could not read database secret ${this.secretId} (${stage}) from Secrets Manager: ` +
          `${name}: ${(error as Error).message}. Check the function's secretsmanager:GetSecretValue ` +
          'permission and that the Secrets Manager VPC endpoint is reachable.',
        { cause: error }
      );
    }
    const parsed = parseRdsSecret(this.secretId, secretString);
    const credentials = this.host ? { ...parsed, host: this.host } : parsed;
    this.lastRead.set(stage, credentials);
    return credentials;
  }
}

/** Parses the RDS secret JSON (`host`, `port`, `username`, `password`, `dbname`). */
export function parseRdsSecret(secretId: string, secretString: string | undefined): DbCredentials {
  return rdsCredentials(secretId, parseSecretObject(secretId, secretString));
}

/** A secret's value as a JSON object; `secretId` names it in the error (a stage may be added). */
export function parseSecretObject(
  secretId: string,
  secretString: string | undefined
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(secretString ?? '');
  } catch {
    throw new ConfigurationError(`Secret ${secretId} is not JSON; expected the RDS secret format.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError(
      `Secret ${secretId} is not a JSON object; expected the RDS secret format.`
    );
  }
  return value as Record<string, unknown>;
}

/** The credentials in a secret's JSON object, each field checked. */
export function rdsCredentials(secretId: string, value: Record<string, unknown>): DbCredentials {
  const { host, port, username, password, dbname } = value as Record<string, unknown>;
  const bad = (field: string, problem: string) =>
    new ConfigurationError(
      `Secret ${secretId}: "${field}" ${problem} (RDS secret format: host, port, username, ` +
        'password, dbname). Fix the secret; the functions read it again on the next failure.'
    );
  if (typeof host !== 'string' || host.trim() === '') {
    throw bad('host', 'must be a non-empty string');
  }
  // Absent means MySQL's port; anything present must be an integer port, not coerced: "abc"
  // would reach the socket layer as NaN and null as port 0.
  if (
    port !== undefined &&
    !(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535)
  ) {
    throw bad('port', 'must be an integer from 1 to 65535');
  }
  if (typeof username !== 'string' || username === '') {
    throw bad('username', 'must be a non-empty string');
  }
  if (typeof password !== 'string') {
    throw bad('password', 'must be a string');
  }
  if (dbname !== undefined && (typeof dbname !== 'string' || dbname === '')) {
    throw bad('dbname', 'must be a non-empty string when present');
  }
  return {
    host,
    port: port === undefined ? 3306 : (port as number),
    user: username,
    password,
    database: (dbname as string | undefined) ?? 'app',
  };
}

function same(a: DbCredentials, b: DbCredentials): boolean {
  return a.user === b.user && a.password === b.password && a.host === b.host && a.port === b.port;
}
