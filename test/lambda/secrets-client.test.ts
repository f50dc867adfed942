import { createServer, IncomingMessage, Server } from 'node:http';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { signatureV4, SigV4SecretsClient } from '../../lambda/lib/secrets-client';
import { SecretsEndpoint } from '../support/secrets-endpoint';

const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-example',
};

interface Captured {
  headers: Record<string, string>;
  body: string;
}

/** An HTTP server that records each request and answers like GetSecretValue. */
async function recorder(): Promise<{ server: Server; url: string; requests: Captured[] }> {
  const requests: Captured[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      requests.push({ headers: req.headers as Record<string, string>, body });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ Name: 'db', SecretString: '{"x":1}' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}`, requests };
}

/** Recomputes a captured request's Authorization over the headers it says it signed. */
function resign(request: Captured, url: string): string {
  const authorization = request.headers.authorization;
  const signed = /SignedHeaders=([^,]+)/.exec(authorization)![1].split(';');
  const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(authorization)![1];
  return signatureV4(
    {
      method: 'POST',
      url: new URL('/', url),
      headers: Object.fromEntries(signed.map((name) => [name, String(request.headers[name])])),
      body: request.body,
    },
    CREDENTIALS,
    region,
    'secretsmanager',
    request.headers['x-amz-date']
  );
}

describe('the Secrets Manager client (SigV4 without the AWS SDK)', () => {
  test("its Signature Version 4 equals the AWS SDK's for the same request", async () => {
    // GIVEN the real SDK client, sending GetSecretValue to a recorder
    const { server, url, requests } = await recorder();
    try {
      const sdk = new SecretsManagerClient({
        region: 'eu-west-1',
        endpoint: url,
        credentials: CREDENTIALS,
      });
      await sdk.send(new GetSecretValueCommand({ SecretId: 'db', VersionStage: 'AWSPENDING' }));
      sdk.destroy();
      // THEN our signer, over the headers the SDK signed, produces the SDK's Authorization
      expect(requests).toHaveLength(1);
      expect(requests[0].headers.authorization).toMatch(/x-amz-security-token/);
      expect(resign(requests[0], url)).toBe(requests[0].headers.authorization);
    } finally {
      server.close();
    }
  });

  test('it signs what it sends, session token included, and reads the SecretString', async () => {
    const { server, url, requests } = await recorder();
    try {
      const client = new SigV4SecretsClient(
        { endpoint: url, region: 'eu-west-1' },
        {
          AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
          AWS_SESSION_TOKEN: CREDENTIALS.sessionToken,
        }
      );
      await expect(client.getSecretString('db', 'AWSCURRENT')).resolves.toBe('{"x":1}');
      const [request] = requests;
      expect(JSON.parse(request.body)).toEqual({ SecretId: 'db', VersionStage: 'AWSCURRENT' });
      expect(request.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
      expect(request.headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
      expect(resign(request, url)).toBe(request.headers.authorization);
    } finally {
      server.close();
    }
  });

  test("the service's error type becomes the error's name", async () => {
    const endpoint = await SecretsEndpoint.start();
    try {
      const client = new SigV4SecretsClient({}, endpoint.env());
      await expect(client.getSecretString(endpoint.secretId, 'AWSPENDING')).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
        message: expect.stringContaining('AWSPENDING'),
      });
    } finally {
      await endpoint.stop();
    }
  });

  test('a missing region or missing credentials say what to set', async () => {
    await expect(
      new SigV4SecretsClient({}, {}).getSecretString('db', 'AWSCURRENT')
    ).rejects.toThrow(/AWS_REGION/);
    await expect(
      new SigV4SecretsClient({}, { AWS_REGION: 'eu-west-1' }).getSecretString('db', 'AWSCURRENT')
    ).rejects.toThrow(/AWS_ACCESS_KEY_ID/);
  });
});
