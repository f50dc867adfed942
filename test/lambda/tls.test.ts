import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { SecretsEndpoint } from '../support/secrets-endpoint';
import { externalServer } from '../support/prerequisites';

describe('TLS to the database', () => {
  let db: AppDatabase;
  let secrets: SecretsEndpoint;

  beforeAll(async () => {
    db = await AppDatabase.create('tls');
    secrets = await SecretsEndpoint.start();
    secrets.set('AWSCURRENT', db.secret('reader'));
  });

  afterAll(async () => {
    await secrets?.stop();
    await db?.dispose();
  });

  async function readWith(env: Record<string, string>): Promise<unknown> {
    const reader = await LambdaEnvironment.start('reader', env);
    try {
      return await reader.invoke({ limit: 1 });
    } finally {
      await reader.stop();
    }
  }

  const skipWithoutTls = db_hasNoTls() ? test.skip : test;

  skipWithoutTls('a server certificate from the trusted CA is accepted', async () => {
    await expect(
      readWith({ ...secrets.env(), DB_TLS_CA_FILE: db.server.caFile! })
    ).resolves.toEqual({ users: [], next: null, servedBy: 'primary' });
  });

  skipWithoutTls('a certificate from an untrusted CA is refused (DB_SECRET_ARN)', async () => {
    await expect(
      readWith({ ...secrets.env(), DB_TLS_CA_FILE: db.server.untrustedCaFile! })
    ).rejects.toMatchObject({
      name: 'DatabaseTlsError',
      message: expect.stringContaining('Amazon RDS CA bundle'),
    });
  });

  skipWithoutTls(
    'with DB_SECRET_ARN and no CA file, only the Amazon RDS bundle is trusted',
    async () => {
      await expect(readWith(secrets.env())).rejects.toMatchObject({ name: 'DatabaseTlsError' });
    }
  );

  skipWithoutTls(
    'a certificate from an untrusted CA is refused (DATABASE_URL ?tls=true)',
    async () => {
      await expect(
        readWith({ ...db.env('reader'), DB_TLS_CA_FILE: db.server.untrustedCaFile! })
      ).rejects.toMatchObject({
        name: 'DatabaseTlsError',
      });
      expect(await db.waitForNoSessions()).toEqual([]);
    }
  );
});

function db_hasNoTls(): boolean {
  // DATABASE_URL without DB_TLS_CA_FILE: no CA to verify against, so nothing to test here.
  const given = externalServer();
  return given !== undefined && !given.caFile;
}
