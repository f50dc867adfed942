import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * The functions' Secrets Manager client. Bounded, so a cold start during a Secrets Manager
 * outage fails within ~3 s, not at the function timeout. Region, endpoint
 * (AWS_ENDPOINT_URL_SECRETS_MANAGER) and credentials come from the Lambda environment.
 */
export function secretsManagerClient(): SecretsManagerClient {
  return new SecretsManagerClient({
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 1500, throwOnRequestTimeout: true },
  });
}
