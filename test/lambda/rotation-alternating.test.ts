import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createConnection } from 'mysql2/promise';
import { RotatingStack, STEPS } from '../support/rotation-load';

// The move to alternating users (lambda/lib/rotation.ts) on a stack whose writer secret has
// only ever been rotated single-user: what the first rotations meet, and that nobody is locked
// out. The steady-load phases are in rotation-under-load.test.ts.

let stack: RotatingStack;

beforeAll(async () => {
  stack = await RotatingStack.start('rotmove');
});

afterAll(async () => {
  await stack?.stop();
});

/** Whether `user` logs in with `password` (TLS, as the functions connect). */
async function logsIn(user: string, password: string): Promise<boolean> {
  const { server, database } = stack.db;
  try {
    const connection = await createConnection({
      host: server.host,
      port: server.port,
      user,
      password,
      database,
      ssl: server.caFile ? { ca: readFileSync(server.caFile, 'utf8') } : undefined,
    });
    await connection.end();
    return true;
  } catch {
    return false;
  }
}

type RdsSecret = { host: string; port: number; username: string; password: string; dbname: string };
const current = () => stack.secrets.valueAt(stack.arns.writer, 'AWSCURRENT') as RdsSecret;

test('a single-user rotation left pending from before the move is refused, with the commands that clear it, and changes nothing', async () => {
  const { username, password } = current();
  const token = randomUUID();
  stack.secrets.startRotation(stack.arns.writer, token);
  const client = new SecretsManagerClient({
    endpoint: stack.secrets.env().AWS_ENDPOINT_URL_SECRETS_MANAGER,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  // What the single-user function put: the same user, another password.
  await client.send(
    new PutSecretValueCommand({
      SecretId: stack.arns.writer,
      ClientRequestToken: token,
      SecretString: JSON.stringify({ ...current(), password: 'single-user-pending' }),
      VersionStages: ['AWSPENDING'],
    })
  );
  await expect(stack.step(stack.arns.writer, token, 'setSecret')).rejects.toThrow(
    new RegExp(
      `never the current user's.*update-secret-version-stage --secret-id ${stack.arns.writer} ` +
        `--version-stage AWSPENDING --remove-from-version-id ${token}.*rotate-secret --secret-id ${stack.arns.writer}\\.$`
    )
  );
  expect(await logsIn(username, password)).toBe(true);
});

test('the first alternating rotation sets the second user, which a missing migration is told about, and locks nobody out', async () => {
  const before = current();
  const clone = `${before.username}_clone`;
  // As if the rotation ran before the deploy's migration made the second user.
  await stack.db.admin.query("DROP USER IF EXISTS ?@'%'", [clone]);
  const token = randomUUID();
  stack.secrets.addRotatingSecret(stack.arns.writer, before); // the refused pending version cleared
  stack.secrets.startRotation(stack.arns.writer, token);
  await stack.step(stack.arns.writer, token, 'createSecret');
  await expect(stack.step(stack.arns.writer, token, 'setSecret')).rejects.toThrow(
    /does not exist.*the schema migration.*Run it.*rotate-secret --secret-id \S+\.$/
  );
  expect(await logsIn(before.username, before.password)).toBe(true);
  // The deploy's migration runs; Secrets Manager retries the rotation.
  await stack.migrate();
  for (const step of STEPS) await stack.step(stack.arns.writer, token, step);
  const after = current();
  expect(after.username).toBe(clone);
  expect(await logsIn(clone, after.password)).toBe(true);
  expect(await logsIn(before.username, before.password)).toBe(true); // AWSPREVIOUS still works
});
