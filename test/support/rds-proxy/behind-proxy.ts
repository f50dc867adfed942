import type { AppRole } from '../../../lib/declared-functions';
import type { AppDatabase } from '../app-database';
import { SecretsEndpoint } from '../secrets-endpoint';
import { ClientPasswordAuthType, RdsProxy, RdsProxyOptions } from './index';

/** A test schema's users behind a proxy: one secret per role, every one in the proxy's auth list. */
export interface BehindProxy {
  readonly secrets: SecretsEndpoint;
  readonly proxy: RdsProxy;
  /** The ARN of `role`'s secret. */
  secretArn(role: AppRole): string;
  /**
   * The environment the template gives `role`'s function behind the proxy
   * (lib/data-function.ts): its secret, DB_PROXY_HOST, and the proxy's CA as DB_TLS_CA_FILE.
   */
  env(role: AppRole): Record<string, string>;
  stop(): Promise<void>;
}

export type BehindProxyOptions = Omit<RdsProxyOptions, 'target' | 'secrets' | 'auth'> & {
  /** @default 'MYSQL_CACHING_SHA2_PASSWORD' */
  readonly clientPasswordAuthType?: ClientPasswordAuthType;
};

/**
 * Starts a Secrets Manager stand-in holding an RDS secret per user of `db` (naming the database,
 * as RDS does) and a proxy in front of `db.server` with all of them in its auth list.
 */
export async function startBehindProxy(
  db: AppDatabase,
  { clientPasswordAuthType, ...options }: BehindProxyOptions = {}
): Promise<BehindProxy> {
  const secrets = await SecretsEndpoint.start();
  const roles = Object.keys(db.users) as AppRole[];
  const secretArn = (role: AppRole) =>
    `arn:aws:secretsmanager:us-east-1:123456789012:secret:${db.database}-${role}`;
  roles.forEach((role) => secrets.addSecret(secretArn(role), db.secret(role)));
  let proxy: RdsProxy;
  try {
    proxy = await RdsProxy.start({
      ...options,
      target: db.server,
      secrets,
      auth: roles.map((role) => ({ secretArn: secretArn(role), clientPasswordAuthType })),
    });
  } catch (error) {
    await secrets.stop();
    throw error;
  }
  return {
    secrets,
    proxy,
    secretArn,
    // What the template gives a function behind the proxy: its secret, DB_PROXY_HOST, and what
    // its declaration sets (lib/data-functions.ts).
    env: (role) => ({
      ...secrets.env(),
      DB_SECRET_ARN: secretArn(role),
      ...proxy.env(),
      ...db.declaredEnv(role),
    }),
    stop: async () => {
      await proxy.stop();
      await secrets.stop();
    },
  };
}
