/**
 * BENCH BASELINE ONLY: the conventional way to read the secret, with the AWS SDK v3 client, as
 * lambda/lib/credentials.ts did before secrets-client.ts. `npm run bench` swaps it in for
 * lambda/lib/secrets-client.ts to build the cold-path baseline; never shipped.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretsClient, SigV4SecretsClientOptions } from '../../../lambda/lib/secrets-client';

export class SigV4SecretsClient implements SecretsClient {
  private readonly client: SecretsManagerClient;

  constructor(options: SigV4SecretsClientOptions = {}) {
    this.client = new SecretsManagerClient({
      maxAttempts: options.maxAttempts,
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs,
        requestTimeout: options.requestTimeoutMs,
        throwOnRequestTimeout: true,
      },
    });
  }

  async getSecretString(secretId: string, versionStage: string): Promise<string | undefined> {
    const result = await this.client.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: versionStage })
    );
    return result.SecretString;
  }
}
