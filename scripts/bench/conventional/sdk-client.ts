/**
 * BENCH BASELINE ONLY: the Secrets Manager client as conventionally written, with the SDK's
 * default credential provider chain and region resolution, the same timeouts as
 * lambda/lib/secrets-manager-client.ts. `npm run bench` swaps it in for that module to build the
 * cold-path baseline; never shipped.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export function secretsManagerClient(): SecretsManagerClient {
  return new SecretsManagerClient({
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 1500, throwOnRequestTimeout: true },
  });
}
