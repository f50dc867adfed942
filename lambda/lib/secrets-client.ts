import { createHash, createHmac } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';

/** The one Secrets Manager call the functions make. */
export interface SecretsClient {
  /** GetSecretValue; rejects with an Error whose `name` is the service's error type. */
  getSecretString(secretId: string, versionStage: string): Promise<string | undefined>;
}

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SignableRequest {
  readonly method: string;
  readonly url: URL;
  /** Header names in lower case; every one of them is signed. */
  readonly headers: Record<string, string>;
  readonly body: string;
}

const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) =>
  createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * AWS Signature Version 4 of a request whose headers are all signed, for `service` in
 * `region` at `amzDate` (YYYYMMDDTHHMMSSZ): returns the Authorization header's value.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
export function signatureV4(
  request: SignableRequest,
  credentials: AwsCredentials,
  region: string,
  service: string,
  amzDate: string
): string {
  const names = Object.keys(request.headers).sort();
  const canonicalHeaders = names
    .map((name) => `${name}:${request.headers[name].trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    request.method,
    request.url.pathname || '/',
    '', // no query string: the JSON protocol posts everything in the body
    canonicalHeaders,
    signedHeaders,
    sha256(request.body),
  ].join('\n');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), service),
    'aws4_request'
  );
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

export interface SigV4SecretsClientOptions {
  /** @default - AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL, or the regional endpoint */
  readonly endpoint?: string;
  /** @default - AWS_REGION (Lambda sets it) */
  readonly region?: string;
  /** @default - AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (Lambda sets them) */
  readonly credentials?: AwsCredentials;
  /** Per attempt: TCP + TLS connect. @default 1000 */
  readonly connectTimeoutMs?: number;
  /** Per attempt: the whole request. @default 1500 */
  readonly requestTimeoutMs?: number;
  /** @default 2 (one retry after a network error, a timeout, throttling or a 5xx) */
  readonly maxAttempts?: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * GetSecretValue over HTTPS with SigV4, in one small file instead of the AWS SDK.
 *
 * Why not the SDK: loading @aws-sdk/client-secrets-manager and making its first call were about
 * half of a 256 MB function's cold start, 500–700 ms (`npm run bench`, cold-path table; at a
 * full vCPU, 56 ms of a 98 ms module init). The functions need one call, with the credentials Lambda puts in
 * the environment; the signature is tested against the SDK's own (test/lambda/secrets-client.test.ts).
 * Not supported, unlike the SDK: credential sources other than the environment (profiles, SSO,
 * IMDS), FIPS endpoints, clock-skew correction.
 */
export class SigV4SecretsClient implements SecretsClient {
  private target?: { endpoint: URL; region: string; agent: http.Agent };

  constructor(
    private readonly options: SigV4SecretsClientOptions = {},
    private readonly env: NodeJS.ProcessEnv = process.env
  ) {}

  /** Region, endpoint and connection pool, resolved at the first call so a missing AWS_REGION is reported by it. */
  private resolve(): { endpoint: URL; region: string; agent: http.Agent } {
    if (!this.target) {
      const env = this.env;
      const region = this.options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
      if (!region) {
        throw new Error('AWS_REGION is not set; it names the Secrets Manager region to call.');
      }
      const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
      const endpoint = new URL(
        this.options.endpoint ??
          env.AWS_ENDPOINT_URL_SECRETS_MANAGER ??
          env.AWS_ENDPOINT_URL ??
          `https://secretsmanager.${region}.${suffix}`
      );
      const agent = new (endpoint.protocol === 'http:' ? http : https).Agent({ keepAlive: true });
      this.target = { endpoint, region, agent };
    }
    return this.target;
  }

  /** Lambda's environment credentials (the execution role's), read at each call. */
  private credentials(): AwsCredentials {
    if (this.options.credentials) {
      return this.options.credentials;
    }
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = this.env;
    if (!AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) {
      throw new Error(
        'No AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): ' +
          'Lambda sets them from the execution role.'
      );
    }
    return {
      accessKeyId: AWS_ACCESS_KEY_ID,
      secretAccessKey: AWS_SECRET_ACCESS_KEY,
      sessionToken: AWS_SESSION_TOKEN,
    };
  }

  async getSecretString(secretId: string, versionStage: string): Promise<string | undefined> {
    const body = JSON.stringify({ SecretId: secretId, VersionStage: versionStage });
    const attempts = this.options.maxAttempts ?? 2;
    for (let attempt = 1; ; attempt++) {
      try {
        const reply = await this.post('secretsmanager.GetSecretValue', body);
        return (reply as { SecretString?: string }).SecretString;
      } catch (error) {
        if (attempt >= attempts || !(error as { retryable?: boolean }).retryable) {
          throw error;
        }
      }
    }
  }

  private post(target: string, body: string): Promise<unknown> {
    const { endpoint, region, agent } = this.resolve();
    const credentials = this.credentials();
    const amzDate = (this.options.now?.() ?? new Date())
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const headers: Record<string, string> = {
      'content-type': 'application/x-amz-json-1.1',
      host: endpoint.host,
      'x-amz-date': amzDate,
      'x-amz-target': target,
      ...(credentials.sessionToken ? { 'x-amz-security-token': credentials.sessionToken } : {}),
    };
    const url = new URL('/', endpoint);
    headers.authorization = signatureV4(
      { method: 'POST', url, headers, body },
      credentials,
      region,
      'secretsmanager',
      amzDate
    );
    const transport = url.protocol === 'http:' ? http : https;
    const connectTimeoutMs = this.options.connectTimeoutMs ?? 1000;
    const requestTimeoutMs = this.options.requestTimeoutMs ?? 1500;
    return new Promise((resolve, reject) => {
      const fail = (error: Error, retryable: boolean) => {
        clearTimeout(timer);
        request.destroy();
        reject(Object.assign(error, { retryable }));
      };
      const request = transport.request(url, {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent,
      });
      const timer = setTimeout(() => {
        const name = 'TimeoutError';
        fail(Object.assign(new Error(`no answer within ${requestTimeoutMs} ms`), { name }), true);
      }, requestTimeoutMs);
      request.on('socket', (socket) => {
        if (socket.connecting) {
          socket.setTimeout(connectTimeoutMs, () => {
            const name = 'TimeoutError';
            fail(
              Object.assign(new Error(`no connection in ${connectTimeoutMs} ms`), { name }),
              true
            );
          });
          socket.once('connect', () => socket.setTimeout(0));
        }
      });
      request.on('error', (error) => fail(error, true));
      request.on('response', (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('error', (error) => fail(error, true));
        response.on('end', () => {
          clearTimeout(timer);
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            // a proxy's HTML error page: reported by status below
          }
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve(parsed);
            return;
          }
          const type = String(
            parsed.__type ?? response.headers['x-amzn-errortype'] ?? `HTTP${status}`
          );
          const error = new Error(String(parsed.message ?? parsed.Message ?? `HTTP ${status}`));
          error.name = type.split('#').pop()!.split(':')[0];
          reject(
            Object.assign(error, {
              retryable: status >= 500 || status === 429 || /Throttl/.test(error.name),
            })
          );
        });
      });
      request.end(body);
    });
  }
}
