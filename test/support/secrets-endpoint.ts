import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import * as path from 'node:path';
import type { ServerInfo } from './private-server';

/**
 * A local stand-in for the Secrets Manager API, just GetSecretValue and DescribeSecret, reached
 * by the real SDK client through AWS_ENDPOINT_URL_SECRETS_MANAGER. Tests set the AWSCURRENT /
 * AWSPENDING values and count the reads. Each stage has its own version, `<stage>-version`.
 */
export class SecretsEndpoint {
  readonly stages = new Map<string, string>();
  /** Stages of further secrets (e.g. the user secrets the migration reads), by id. */
  private readonly otherSecrets = new Map<string, Map<string, string>>();
  readonly reads: string[] = [];

  private constructor(
    private readonly server: Server,
    readonly secretId: string,
    private readonly tls?: EndpointTls
  ) {}

  /** With `tls`, HTTPS as the real endpoint: clients then trust `tls.caFile` (NODE_EXTRA_CA_CERTS). */
  static async start(
    secretId = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-test',
    { tls }: { tls?: EndpointTls } = {}
  ): Promise<SecretsEndpoint> {
    const server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }) : createServer();
    const endpoint = new SecretsEndpoint(server, secretId, tls);
    server.on('request', (req, res) => endpoint.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return endpoint;
  }

  /** The environment variables a function needs to use this endpoint and this secret. */
  env(): Record<string, string> {
    const { port } = this.server.address() as { port: number };
    return {
      DB_SECRET_ARN: this.secretId,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `${this.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
      // Added to Node's own CA store, as the SDK's HTTPS client uses it on Lambda.
      ...(this.tls ? { NODE_EXTRA_CA_CERTS: this.tls.caFile } : {}),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    };
  }

  /** Stores an RDS-format secret value under a stage. */
  set(
    stage: 'AWSCURRENT' | 'AWSPENDING',
    value: { host: string; port: number; username: string; password: string; dbname: string }
  ): void {
    this.stages.set(stage, JSON.stringify({ engine: 'mysql', ...value }));
  }

  /** Stores a stage (AWSCURRENT unless told) of another secret, served under its own id. */
  addSecret(
    secretId: string,
    value: { host: string; port: number; username: string; password: string; dbname: string },
    stage: 'AWSCURRENT' | 'AWSPENDING' = 'AWSCURRENT'
  ): void {
    const stages = this.otherSecrets.get(secretId) ?? new Map<string, string>();
    stages.set(stage, JSON.stringify({ engine: 'mysql', ...value }));
    this.otherSecrets.set(secretId, stages);
  }

  /** Drops a stage of another secret (a rotation that finished or was cancelled). */
  removeStage(secretId: string, stage: 'AWSPENDING'): void {
    this.otherSecrets.get(secretId)?.delete(stage);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const reply = (status: number, payload: object) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(payload));
      };
      const target = req.headers['x-amz-target'];
      const { SecretId, VersionId, ...request } = JSON.parse(body) as {
        SecretId: string;
        VersionId?: string;
        VersionStage?: string;
      };
      const stages = SecretId === this.secretId ? this.stages : this.otherSecrets.get(SecretId);
      if (target === 'secretsmanager.DescribeSecret') {
        if (!stages) {
          return reply(400, { __type: 'ResourceNotFoundException', message: 'no such secret' });
        }
        const versions = [...stages.keys()].map((stage) => [`${stage}-version`, [stage]]);
        return reply(200, {
          ARN: SecretId,
          Name: SecretId,
          VersionIdsToStages: Object.fromEntries(versions),
        });
      }
      if (target !== 'secretsmanager.GetSecretValue') {
        return reply(400, { __type: 'UnknownOperationException', message: 'not implemented here' });
      }
      const VersionStage =
        request.VersionStage ?? VersionId?.replace(/-version$/, '') ?? 'AWSCURRENT';
      this.reads.push(VersionStage);
      const value = stages?.get(VersionStage);
      if (value === undefined) {
        return reply(400, {
          __type: 'ResourceNotFoundException',
          message: `Secrets Manager can't find the specified secret value for staging label: ${VersionStage}`,
        });
      }
      return reply(200, {
        ARN: SecretId,
        Name: 'db-test',
        VersionId: `${VersionStage}-version`,
        SecretString: value,
        VersionStages: [VersionStage],
        CreatedDate: Date.now() / 1000,
      });
    });
  }
}

/** A certificate for 127.0.0.1 and the CA that signed it, PEM. */
export interface EndpointTls {
  readonly key: string;
  readonly cert: string;
  readonly caFile: string;
}

/** The certificate of a private server we started (it names 127.0.0.1), for an HTTPS endpoint. */
export function endpointTlsOf(server: ServerInfo): EndpointTls | undefined {
  if (!server.dir || !server.caFile) {
    return undefined; // a server of your own: its key is not ours to use
  }
  const read = (name: string) => readFileSync(path.join(server.dir!, name), 'utf8');
  return { key: read('server.key'), cert: read('server.pem'), caFile: server.caFile };
}
