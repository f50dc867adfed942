import { X509Certificate } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readDatabaseConfig } from '../../lambda/lib/config';
import { SecretsManagerCredentials } from '../../lambda/lib/credentials';
import { Database } from '../../lambda/lib/database';
import { listUsers } from '../../lambda/lib/users-repository';
import { AppDatabase } from '../support/app-database';
import { SecretsEndpoint } from '../support/secrets-endpoint';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db';

/** The functions' configuration from a secret in eu-west-1, with `extra` variables on top. */
function secretConfig(extra: NodeJS.ProcessEnv = {}) {
  const config = readDatabaseConfig({
    DB_SECRET_ARN: SECRET,
    DB_CA_TYPE: 'rds-ca-rsa2048-g1',
    AWS_REGION: 'eu-west-1',
    ...extra,
  });
  if (config.kind !== 'secret') throw new Error('expected the secret configuration');
  return config;
}

describe('functions behind an RDS Proxy (DB_PROXY_HOST)', () => {
  test('trust the Amazon Root CAs the proxy presents, not the RDS roots', () => {
    const config = secretConfig({ DB_PROXY_HOST: 'p.proxy-abc.eu-west-1.rds.amazonaws.com' });
    expect(config.proxyHost).toBe('p.proxy-abc.eu-west-1.rds.amazonaws.com');
    const subjects = (config.tls.ca as string[]).map((pem) => new X509Certificate(pem).subject);
    expect(subjects).toEqual(expect.arrayContaining(['C=US\nO=Amazon\nCN=Amazon Root CA 1']));
    expect(subjects.some((s) => s.includes('Amazon RDS'))).toBe(false);
    expect(config.tls).toMatchObject({ rejectUnauthorized: true, verifyIdentity: true });
  });

  test('still trust the RDS root for read replicas, which the reader reaches directly', () => {
    const config = secretConfig({ DB_PROXY_HOST: 'p.proxy-abc.eu-west-1.rds.amazonaws.com' });
    const subjects = (config.replicaTls.ca as string[]).map(
      (pem) => new X509Certificate(pem).subject
    );
    expect(subjects).toEqual([expect.stringContaining('Amazon RDS eu-west-1 Root CA RSA2048 G1')]);
    expect(config.replicaTls).toMatchObject({ rejectUnauthorized: true, verifyIdentity: true });
  });

  test('without DB_PROXY_HOST nothing changes: the secret host and the RDS root', () => {
    const config = secretConfig();
    expect(config.proxyHost).toBeUndefined();
    expect(new X509Certificate((config.tls.ca as string[])[0]).subject).toContain('Amazon RDS');
    expect(config.replicaTls).toBe(config.tls); // one TLS context, one session cache
  });

  describe('connect to the proxy host with the secret user, also after a rotation', () => {
    let db: AppDatabase;
    let secrets: SecretsEndpoint;
    beforeAll(async () => {
      db = await AppDatabase.create('proxyhost');
      secrets = await SecretsEndpoint.start();
    });
    afterAll(async () => {
      await secrets?.stop();
      await db?.dispose();
    });

    test('the secret names the instance, which the function cannot reach; DB_PROXY_HOST wins', async () => {
      const settings = (password: string) => ({
        host: 'instance.invalid', // the instance endpoint: not reachable from the function
        port: db.server.port,
        username: db.users.reader.user,
        password,
        dbname: db.database,
      });
      secrets.set('AWSCURRENT', settings('stale-password'));
      secrets.set('AWSPENDING', settings(db.users.reader.password)); // rotation in progress
      const credentials = new SecretsManagerCredentials(secrets.secretId, {
        client: new SecretsManagerClient({
          endpoint: secrets.env().AWS_ENDPOINT_URL_SECRETS_MANAGER,
          region: 'us-east-1',
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        }),
        host: db.server.host,
      });
      expect((await credentials.current()).host).toBe(db.server.host);
      const database = new Database({ credentials, tls: db.clientTls() });
      await expect(
        database.run((c) => listUsers(c, { limit: 1, after: null }))
      ).resolves.toMatchObject({ users: [] });
      // AWSPREVIOUS (what a proxy may still hold) has no version here.
      expect(secrets.reads).toEqual(['AWSCURRENT', 'AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING']);
    });
  });
});
