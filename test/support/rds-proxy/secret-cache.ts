import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * When the proxy reads a secret again. The RDS Proxy guide says the proxy authenticates clients
 * and logs in to the database with the secret it holds
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-secrets-arns.html), and that
 * after a password change the secret must be updated for the proxy to use it
 * (rds-proxy-managing.html, "Changing the password for a database user"); it does not say when
 * the proxy re-reads it. So both are parameters here, tested at both ends.
 */
export interface SecretRefresh {
  /** A secret read this long ago (by the proxy's clock) is read again before its next use. */
  readonly everyMs: number;
  /**
   * After a login failed with the cached secret (the client's, or the proxy's own database
   * login): re-read the secret and try once more, if its last read is at least this old.
   * 0: at once. @default - never: only `everyMs` re-reads
   */
  readonly afterFailedLoginMs?: number;
}

/** The fields of an RDS-format secret the proxy uses. */
export interface ProxySecret {
  readonly username: string;
  readonly password: string;
}

interface Entry {
  readonly secretArn: string;
  value: ProxySecret;
  readAt: number;
}

/**
 * The proxy's cached AWSCURRENT of every secret in its auth list, read with the real AWS SDK
 * from the Secrets Manager stand-in (test/support/secrets-endpoint.ts), keyed by user name: the
 * proxy matches a client's user name against the `username` of its secrets.
 */
export class SecretCache {
  /** Every GetSecretValue the proxy made, as `secretArn`, in order. */
  readonly reads: string[] = [];
  private readonly byUser = new Map<string, Entry>();

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretArns: readonly string[],
    private readonly refresh: SecretRefresh,
    private readonly now: () => number
  ) {}

  /** Reads every secret once (what a new proxy does before it accepts clients). */
  async load(): Promise<void> {
    for (const arn of this.secretArns) {
      const value = await this.read(arn);
      this.byUser.set(value.username, { secretArn: arn, value, readAt: this.now() });
    }
  }

  /** The ARN of the secret whose username is `user` (as last read). */
  secretArnOf(user: string): string | undefined {
    return this.byUser.get(user)?.secretArn;
  }

  /** The secret for `user`, read again first when `everyMs` has passed; undefined when none. */
  async secretFor(user: string): Promise<ProxySecret | undefined> {
    const entry = this.byUser.get(user);
    if (!entry) return undefined;
    if (this.now() - entry.readAt >= this.refresh.everyMs) await this.reread(entry);
    return entry.value;
  }

  /**
   * After a login with `user`'s cached secret failed: the secret as read again, when the policy
   * allows a re-read now (and it changed), else undefined.
   */
  async afterFailedLogin(user: string): Promise<ProxySecret | undefined> {
    const entry = this.byUser.get(user);
    const wait = this.refresh.afterFailedLoginMs;
    if (!entry || wait === undefined || this.now() - entry.readAt < wait) return undefined;
    const before = entry.value.password;
    await this.reread(entry);
    return entry.value.password === before ? undefined : entry.value;
  }

  private async reread(entry: Entry): Promise<void> {
    entry.value = await this.read(entry.secretArn);
    entry.readAt = this.now();
    // A secret whose username changed now answers for its new user only.
    this.byUser.forEach(
      (e, user) => e === entry && user !== entry.value.username && this.byUser.delete(user)
    );
    this.byUser.set(entry.value.username, entry);
  }

  private async read(secretArn: string): Promise<ProxySecret> {
    this.reads.push(secretArn);
    const { SecretString } = await this.client.send(
      new GetSecretValueCommand({ SecretId: secretArn, VersionStage: 'AWSCURRENT' })
    );
    const { username, password } = JSON.parse(SecretString ?? '{}') as Partial<ProxySecret>;
    if (typeof username !== 'string' || typeof password !== 'string') {
      throw new Error(`Secret ${secretArn} has no username and password: not an RDS secret.`);
    }
    return { username, password };
  }
}
