import { randomInt, randomUUID } from 'node:crypto';
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
  /** Secrets with Secrets Manager's version model, for rotation (see `addRotatingSecret`). */
  private readonly rotating = new Map<string, VersionedSecret>();
  /** Operations called on rotating secrets and GetRandomPassword, in order (`<Operation> <stage or id>`). */
  readonly calls: string[] = [];
  readonly reads: string[] = [];
  /**
   * The rotation function Secrets Manager invokes for RotateSecret (a test sets it), with the
   * step events Secrets Manager sends. @default - RotateSecret only starts the rotation
   */
  rotationFunction?: (event: {
    SecretId: string;
    ClientRequestToken: string;
    Step: string;
  }) => Promise<unknown>;
  /**
   * GetSecretValue calls per caller, by the access key id the SDK signed with (a test gives each
   * kind of caller its own AWS_ACCESS_KEY_ID): who reads how often.
   */
  readonly getSecretValueBy = new Map<string, number>();
  /** What each RotateSecret set off (the steps, or the configuration test), to await. */
  readonly rotations: Promise<void>[] = [];

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

  /**
   * A secret kept the way Secrets Manager keeps one: versions with ids, each holding labels, a
   * label on one version at a time, AWSPREVIOUS following AWSCURRENT. Answers DescribeSecret,
   * GetSecretValue (by stage and/or version), PutSecretValue and UpdateSecretVersionStage as the
   * API reference describes them; GetRandomPassword works for any caller.
   * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_Operations.html
   */
  addRotatingSecret(
    secretId: string,
    value: { host: string; port: number; username: string; password: string; dbname: string } & {
      [field: string]: unknown;
    }
  ): void {
    const secret = new VersionedSecret();
    secret.put('initial-version', JSON.stringify({ engine: 'mysql', ...value }), ['AWSCURRENT']);
    this.rotating.set(secretId, secret);
  }

  /**
   * What RotateSecret does before it calls the function: a new version, labelled AWSPENDING and
   * holding no value yet, whose id is the token every step gets.
   * https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html
   */
  startRotation(secretId: string, token: string): void {
    this.rotatingSecret(secretId).label(token, 'AWSPENDING');
  }

  /** A rotating secret's versions and their labels. */
  versionsOf(secretId: string): Record<string, string[]> {
    return this.rotatingSecret(secretId).stages();
  }

  /** The parsed value of the version a label is on (undefined when none or empty). */
  valueAt(secretId: string, stage: string): Record<string, unknown> | undefined {
    const text = this.rotatingSecret(secretId).valueAt(stage);
    return text === undefined ? undefined : JSON.parse(text);
  }

  /**
   * RotateSecret as the API reference describes it
   * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html):
   * "If the AWSPENDING staging label is present but not attached to the same version as
   * AWSCURRENT, then any later invocation of RotateSecret assumes that a previous rotation
   * request is still in progress and returns an error." Otherwise it labels a new, empty version
   * AWSPENDING and, with RotateImmediately (the default), runs the four steps; without, "Secrets
   * Manager tests the rotation configuration by running the testSecret step ... The test creates
   * an AWSPENDING version of the secret and then removes it" (that version is left empty here:
   * the documentation does not say what it holds). The steps run after the answer, as the real
   * service invokes the function asynchronously; `rotations` holds them.
   */
  private rotateSecret(
    secretId: string,
    secret: VersionedSecret,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    request: any
  ): [number, object] {
    const pending = secret.versionWith('AWSPENDING');
    if (pending !== undefined && pending !== secret.versionWith('AWSCURRENT')) {
      return [
        400,
        {
          __type: 'InvalidRequestException',
          message: `A previous rotation isn't complete (AWSPENDING is on version ${pending}). That rotation will be reattempted.`,
        },
      ];
    }
    const token: string = request.ClientRequestToken ?? randomUUID();
    secret.label(token, 'AWSPENDING');
    const invoke = this.rotationFunction;
    const immediately = request.RotateImmediately !== false;
    const steps = immediately
      ? ['createSecret', 'setSecret', 'testSecret', 'finishSecret']
      : ['testSecret'];
    this.rotations.push(
      (async () => {
        if (!invoke) return;
        for (const Step of steps)
          await invoke({ SecretId: secretId, ClientRequestToken: token, Step });
      })().finally(() => {
        if (!immediately) secret.unlabel(token, 'AWSPENDING');
      })
    );
    return [200, { ARN: secretId, Name: secretId, VersionId: token }];
  }

  private rotatingSecret(secretId: string): VersionedSecret {
    const secret = this.rotating.get(secretId);
    if (!secret) throw new Error(`No rotating secret ${secretId}: addRotatingSecret() first.`);
    return secret;
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
      if (target === 'secretsmanager.GetSecretValue') {
        const caller = /Credential=([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? '-';
        this.getSecretValueBy.set(caller, (this.getSecretValueBy.get(caller) ?? 0) + 1);
      }
      const parsed = JSON.parse(body);
      const { SecretId, VersionId, ...request } = parsed as {
        SecretId: string;
        VersionId?: string;
        VersionStage?: string;
      };
      const rotating = this.rotating.get(SecretId);
      if (rotating || target === 'secretsmanager.GetRandomPassword') {
        const operation = String(target).replace('secretsmanager.', '');
        this.calls.push(`${operation} ${request.VersionStage ?? VersionId ?? ''}`.trim());
        if (target === 'secretsmanager.RotateSecret' && rotating) {
          const [status, payload] = this.rotateSecret(SecretId, rotating, parsed);
          return reply(status, payload);
        }
        const [status, payload] = answerVersioned(String(target), rotating, parsed);
        return reply(status, payload);
      }
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

/** One secret's versions: id -> value (absent until put) and labels. */
class VersionedSecret {
  private readonly versions = new Map<string, { value?: string; labels: Set<string> }>();

  put(versionId: string, value: string, labels: string[]): void {
    const version = this.versions.get(versionId) ?? { labels: new Set<string>() };
    version.value = value;
    this.versions.set(versionId, version);
    labels.forEach((label) => this.label(versionId, label));
  }

  /** Puts `label` on `versionId` (creating an empty version), taking it off any other. */
  label(versionId: string, label: string): void {
    for (const version of this.versions.values()) version.labels.delete(label);
    const version = this.versions.get(versionId) ?? { labels: new Set<string>() };
    version.labels.add(label);
    this.versions.set(versionId, version);
  }

  unlabel(versionId: string, label: string): void {
    this.versions.get(versionId)?.labels.delete(label);
  }

  versionWith(label: string): string | undefined {
    return [...this.versions].find(([, v]) => v.labels.has(label))?.[0];
  }

  version(versionId: string) {
    return this.versions.get(versionId);
  }

  valueAt(label: string): string | undefined {
    const id = this.versionWith(label);
    return id === undefined ? undefined : this.versions.get(id)?.value;
  }

  stages(): Record<string, string[]> {
    return Object.fromEntries(
      [...this.versions].filter(([, v]) => v.labels.size > 0).map(([id, v]) => [id, [...v.labels]])
    );
  }
}

const notFound = (message: string): [number, object] => [
  400,
  { __type: 'ResourceNotFoundException', message },
];
const invalid = (message: string): [number, object] => [
  400,
  { __type: 'InvalidParameterException', message },
];

/** The Secrets Manager operations rotation uses, on a versioned secret. */
function answerVersioned(
  target: string,
  secret: VersionedSecret | undefined,
  // The API's JSON request, whatever the operation: untyped by nature.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request: any
): [number, object] {
  if (target === 'secretsmanager.GetRandomPassword') {
    return [
      200,
      {
        RandomPassword: randomPassword(
          request.PasswordLength ?? 32,
          request.ExcludeCharacters ?? ''
        ),
      },
    ];
  }
  if (!secret) return notFound("Secrets Manager can't find the specified secret.");
  const { SecretId, VersionId, VersionStage } = request;
  switch (target) {
    case 'secretsmanager.DescribeSecret':
      return [
        200,
        {
          ARN: SecretId,
          Name: SecretId,
          RotationEnabled: true,
          VersionIdsToStages: secret.stages(),
        },
      ];
    case 'secretsmanager.GetSecretValue': {
      // With both, the label must be on that version (API_GetSecretValue).
      const id = VersionId ?? secret.versionWith(VersionStage ?? 'AWSCURRENT');
      const version = id === undefined ? undefined : secret.version(id);
      if (
        !version ||
        (VersionStage && !version.labels.has(VersionStage)) ||
        version.value === undefined
      ) {
        return notFound(
          `Secrets Manager can't find the specified secret value for VersionId: ${VersionId ?? '-'}, staging label: ${VersionStage ?? 'AWSCURRENT'}`
        );
      }
      return [
        200,
        {
          ARN: SecretId,
          Name: SecretId,
          VersionId: id,
          SecretString: version.value,
          VersionStages: [...version.labels],
        },
      ];
    }
    case 'secretsmanager.PutSecretValue': {
      const id = request.ClientRequestToken;
      const existing = secret.version(id);
      if (existing?.value !== undefined && existing.value !== request.SecretString) {
        // Idempotent only for the same value (API_PutSecretValue).
        return [
          400,
          {
            __type: 'ResourceExistsException',
            message: `A version with VersionId ${id} already exists with a different value.`,
          },
        ];
      }
      secret.put(id, request.SecretString, request.VersionStages ?? ['AWSCURRENT']);
      return [
        200,
        { ARN: SecretId, Name: SecretId, VersionId: id, VersionStages: request.VersionStages },
      ];
    }
    case 'secretsmanager.UpdateSecretVersionStage': {
      const { MoveToVersionId, RemoveFromVersionId } = request;
      const holder = secret.versionWith(VersionStage);
      if (holder !== undefined && holder !== RemoveFromVersionId) {
        return invalid(
          `The staging label ${VersionStage} is on version ${holder}, not on ${RemoveFromVersionId}: name it in RemoveFromVersionId.`
        );
      }
      if (MoveToVersionId === undefined) {
        if (RemoveFromVersionId !== undefined) secret.unlabel(RemoveFromVersionId, VersionStage);
      } else {
        if (secret.version(MoveToVersionId)?.value === undefined) {
          return notFound(`No version ${MoveToVersionId} with a value.`);
        }
        secret.label(MoveToVersionId, VersionStage);
        // Moving AWSCURRENT labels the version it left AWSPREVIOUS (API_UpdateSecretVersionStage).
        if (VersionStage === 'AWSCURRENT' && holder !== undefined && holder !== MoveToVersionId) {
          secret.label(holder, 'AWSPREVIOUS');
        }
      }
      return [200, { ARN: SecretId, Name: SecretId }];
    }
    default:
      return [
        400,
        { __type: 'UnknownOperationException', message: `${target} is not implemented here` },
      ];
  }
}

/** Printable ASCII without `exclude`, like GetRandomPassword's defaults (no spaces). */
function randomPassword(length: number, exclude: string): string {
  const alphabet = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).filter(
    (c) => !exclude.includes(c)
  );
  return Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
}
