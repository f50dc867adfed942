import { createServer, Server } from 'node:net';
import { parseReadEvent, parseWriteEvent } from '../../lambda/lib/validation';
import { LambdaEnvironment } from '../support/lambda-environment';

const ok = { email: 'ann@example.com', name: 'Ann' };
const proto = JSON.parse('{"email":"ann@example.com","name":"Ann","__proto__":{"admin":true}}');

describe('a bad writer event is rejected with a ValidationError naming the field', () => {
  test.each<[string, unknown, string]>([
    ['null', null, 'event'],
    ['a string', 'ann@example.com', 'event'],
    ['an array', [ok], 'event'],
    ['a number', 42, 'event'],
    ['a class instance', new Date(), 'event'],
    ['missing email', { name: 'Ann' }, 'email'],
    ['missing name', { email: 'ann@example.com' }, 'name'],
    ['email as a number', { ...ok, email: 1 }, 'email'],
    ['email as an object', { ...ok, email: { $ne: null } }, 'email'],
    ['email as an array', { ...ok, email: ['ann@example.com'] }, 'email'],
    ['email without @', { ...ok, email: 'ann.example.com' }, 'email'],
    ['email without a domain dot', { ...ok, email: 'ann@localhost' }, 'email'],
    ['email with a space', { ...ok, email: 'ann smith@example.com' }, 'email'],
    ['email with SQL', { ...ok, email: "x' OR '1'='1" }, 'email'],
    ['email with a newline', { ...ok, email: 'ann@example.com\nBcc: x@y.z' }, 'email'],
    ['email with non-ASCII', { ...ok, email: 'ánn@example.com' }, 'email'],
    ['oversized email', { ...ok, email: `${'a'.repeat(64)}@${'b'.repeat(200)}.com` }, 'email'],
    ['huge email', { ...ok, email: 'a'.repeat(1_000_000) }, 'email'],
    ['name as a number', { ...ok, name: 7 }, 'name'],
    ['name as null', { ...ok, name: null }, 'name'],
    ['empty name', { ...ok, name: '' }, 'name'],
    ['blank name', { ...ok, name: '   ' }, 'name'],
    ['name with padding', { ...ok, name: ' Ann' }, 'name'],
    ['name with NUL', { ...ok, name: 'Ann\u0000' }, 'name'],
    ['name with an escape sequence', { ...ok, name: 'Ann\u001b[31m' }, 'name'],
    ['name with a lone surrogate', { ...ok, name: 'Ann\ud800' }, 'name'],
    ['oversized name', { ...ok, name: 'x'.repeat(201) }, 'name'],
    ['huge name', { ...ok, name: 'x'.repeat(5_000_000) }, 'name'],
    ['an extra field', { ...ok, admin: true }, 'admin'],
    ['a typo', { email: ok.email, nmae: 'Ann' }, 'nmae'],
    ['a __proto__ key', proto, '__proto__'],
  ])('%s', (_label, event, field) => {
    expect(() => parseWriteEvent(event)).toThrow(
      expect.objectContaining({ name: 'ValidationError', field })
    );
  });

  test('good events pass, the email lower-cased and the name kept as sent', () => {
    expect(parseWriteEvent({ email: 'Ann.O+x@Example.COM', name: 'Ann 😀 O’Brien' })).toEqual({
      email: 'ann.o+x@example.com',
      name: 'Ann 😀 O’Brien',
    });
    expect(
      parseWriteEvent({ email: "o'brien@example.com", name: "'; DROP TABLE users; --" }).name
    ).toBe("'; DROP TABLE users; --");
    expect(parseWriteEvent({ ...ok, name: '😀'.repeat(200) }).name).toHaveLength(400); // 200 code points
  });
});

describe('a bad reader event is rejected with a ValidationError naming the field', () => {
  test.each<[string, unknown, string]>([
    ['null', null, 'event'],
    ['an array', [], 'event'],
    ['email and limit together', { email: 'ann@example.com', limit: 5 }, 'limit'],
    ['a bad email', { email: 'nope' }, 'email'],
    ['limit 0', { limit: 0 }, 'limit'],
    ['limit 101', { limit: 101 }, 'limit'],
    ['limit as a string', { limit: '10' }, 'limit'],
    ['limit as a fraction', { limit: 1.5 }, 'limit'],
    ['negative after', { after: -1 }, 'after'],
    ['after as a string', { after: '1 OR 1=1' }, 'after'],
    ['after beyond 2^53', { after: 2 ** 60 }, 'after'],
    ['after as NaN', { after: NaN }, 'after'],
    ['an extra field', { offset: 10 }, 'offset'],
    ['minVersion 0', { email: 'ann@example.com', minVersion: 0 }, 'minVersion'],
    ['minVersion as a string', { email: 'ann@example.com', minVersion: '3' }, 'minVersion'],
    ['minVersion as a fraction', { email: 'ann@example.com', minVersion: 1.5 }, 'minVersion'],
    ['minVersion beyond 2^53', { email: 'ann@example.com', minVersion: 2 ** 60 }, 'minVersion'],
    ['minVersion on a list read', { minVersion: 1 }, 'minVersion'],
    ['consistency "strong"', { email: 'ann@example.com', consistency: 'strong' }, 'consistency'],
    ['consistency misspelt', { consistency: 'eventually' }, 'consistency'],
    [
      'minVersion with consistency',
      { email: 'ann@example.com', minVersion: 2, consistency: 'eventual' },
      'consistency',
    ],
  ])('%s', (_label, event, field) => {
    expect(() => parseReadEvent(event)).toThrow(
      expect.objectContaining({ name: 'ValidationError', field })
    );
  });

  test('good events: by email, or a page with defaults', () => {
    expect(parseReadEvent({ email: 'Ann@Example.com' })).toEqual({
      kind: 'byEmail',
      email: 'ann@example.com',
      consistency: 'strong',
    });
    expect(parseReadEvent({})).toEqual({
      kind: 'list',
      limit: 20,
      after: null,
      consistency: 'strong',
    });
    expect(parseReadEvent({ limit: 100, after: null })).toEqual({
      kind: 'list',
      limit: 100,
      after: null,
      consistency: 'strong',
    });
  });

  test('good events: read-your-writes and eventual reads', () => {
    expect(parseReadEvent({ email: 'ann@example.com', minVersion: 3 })).toEqual({
      kind: 'byEmail',
      email: 'ann@example.com',
      consistency: 'strong',
      minVersion: 3,
    });
    expect(parseReadEvent({ email: 'ann@example.com', consistency: 'eventual' })).toEqual({
      kind: 'byEmail',
      email: 'ann@example.com',
      consistency: 'eventual',
    });
    expect(parseReadEvent({ limit: 5, consistency: 'eventual' })).toEqual({
      kind: 'list',
      limit: 5,
      after: null,
      consistency: 'eventual',
    });
  });
});

describe('a bad event opens no connection', () => {
  let server: Server;
  let accepted = 0;

  beforeAll(async () => {
    // Stands where the database would be and counts connection attempts.
    server = createServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  test('neither handler connects before the event is valid', async () => {
    const { port } = server.address() as { port: number };
    const env = { DATABASE_URL: `mysql://writer:pw@127.0.0.1:${port}/app` };
    const [writer, reader] = await Promise.all([
      LambdaEnvironment.start('writer', env),
      LambdaEnvironment.start('reader', env),
    ]);
    // The init's preparation connects (lambda/lib/init-preparation.ts); the invocations may not.
    const acceptedAtInit = accepted;
    try {
      await expect(
        writer.invoke({ email: 'ann@example.com', name: 'Ann', role: 'admin' })
      ).rejects.toMatchObject({
        name: 'ValidationError',
        message: expect.stringContaining('"role"'),
      });
      await expect(reader.invoke({ limit: 1000 })).rejects.toMatchObject({
        name: 'ValidationError',
      });
      expect(accepted).toBe(acceptedAtInit);
    } finally {
      await Promise.all([writer.stop(), reader.stop()]);
    }
  });
});
