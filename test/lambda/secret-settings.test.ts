import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerCredentials, parseRdsSecret } from '../../lambda/lib/credentials';
import { Database } from '../../lambda/lib/database';
import { listUsers } from '../../lambda/lib/users-repository';
import { AppDatabase } from '../support/app-database';
import { freePort } from '../support/ports';
import { SecretsEndpoint } from '../support/secrets-endpoint';

const VALID = {
  host: 'db.example.com',
  port: 3306,
  username: 'writer',
  password: 'pw',
  dbname: 'app',
};

describe('the RDS secret is validated strictly', () => {
  test.each([
    ['port', { port: 'abc' }],
    ['port', { port: null }],
    ['port', { port: 0 }],
    ['port', { port: 65536 }],
    ['port', { port: 3306.5 }],
    ['port', { port: '3306' }],
    ['host', { host: '' }],
    ['host', { host: 42 }],
    ['username', { username: null }],
    ['password', { password: 1234 }],
    ['dbname', { dbname: '' }],
  ])('a bad %s (%j) is a ConfigurationError naming it', (field, override) => {
    expect(() => parseRdsSecret('s', JSON.stringify({ ...VALID, ...override }))).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: expect.stringContaining(`"${field}"`),
      })
    );
  });

  test('a valid secret is read as is; a missing port is 3306', () => {
    expect(parseRdsSecret('s', JSON.stringify(VALID))).toEqual({
      host: 'db.example.com',
      port: 3306,
      user: 'writer',
      password: 'pw',
      database: 'app',
    });
    const withoutPort: Partial<typeof VALID> = { ...VALID };
    delete withoutPort.port;
    expect(parseRdsSecret('s', JSON.stringify(withoutPort)).port).toBe(3306);
  });
});

/**
 * Settings that never reached a database are not trusted for the credentials' TTL: when the
 * database is unreachable with them, the secret is read again, at most once per interval.
 */
describe('a secret that names an unreachable database', () => {
  let db: AppDatabase;
  let secrets: SecretsEndpoint;

  beforeAll(async () => {
    db = await AppDatabase.create('stale');
    secrets = await SecretsEndpoint.start();
  });

  afterAll(async () => {
    await secrets?.stop();
    await db?.dispose();
  });

  test('is read again once fixed, at most once per interval per environment', async () => {
    const settings = (port: number) => db.secret('reader', { port });
    secrets.set('AWSCURRENT', settings(await freePort())); // nothing listens there
    let clock = 1_000_000;
    const credentials = new SecretsManagerCredentials(secrets.secretId, {
      client: new SecretsManagerClient({
        endpoint: secrets.env().AWS_ENDPOINT_URL_SECRETS_MANAGER,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      }),
      unreachableRereadIntervalMs: 30_000,
      now: () => clock,
    });
    const database = new Database({ credentials, tls: db.clientTls() });
    const list = () => database.run((c) => listUsers(c, { limit: 1, after: null }));

    await expect(list()).rejects.toMatchObject({ name: 'DatabaseUnreachableError' });
    expect(secrets.reads).toEqual(['AWSCURRENT']); // the cold start's read, just now

    secrets.set('AWSCURRENT', settings(db.server.port)); // the operator fixes the secret
    clock += 5_000;
    await expect(list()).rejects.toMatchObject({ name: 'DatabaseUnreachableError' });
    expect(secrets.reads).toEqual(['AWSCURRENT']); // read less than 30 s ago: not again

    clock += 30_000;
    await expect(list()).resolves.toMatchObject({ users: [] });
    expect(secrets.reads).toEqual(['AWSCURRENT', 'AWSCURRENT']); // re-read, and it works

    await list();
    expect(secrets.reads).toHaveLength(2); // cached again
  });
});
