import { toDataPathError } from '../../lambda/lib/error-mapping';

// Whether an unknown outcome may be retried is the function's declaration (idempotentWrites),
// which the stack passes as DB_WRITES_IDEMPOTENT: an insert of a new order must never be told
// that retrying is safe.
describe('a write whose outcome is unknown', () => {
  // Lost after the statement was sent (the connection layer marks the phase).
  const lost = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', phase: 'query' });
  const target = { host: 'db.example', port: 3306 };
  const saved = process.env.DB_WRITES_IDEMPOTENT;
  afterEach(() => {
    if (saved === undefined) delete process.env.DB_WRITES_IDEMPOTENT;
    else process.env.DB_WRITES_IDEMPOTENT = saved;
  });

  test('is safe to retry when the function is declared idempotent', () => {
    process.env.DB_WRITES_IDEMPOTENT = 'true';
    expect(toDataPathError(lost, target)).toMatchObject({
      name: 'DatabaseConnectionLostError',
      message: expect.stringContaining('retrying the same event is safe'),
    });
  });

  test.each([['false'], [undefined]])(
    'is to be checked before a retry when DB_WRITES_IDEMPOTENT is %s',
    (value) => {
      if (value === undefined) delete process.env.DB_WRITES_IDEMPOTENT;
      else process.env.DB_WRITES_IDEMPOTENT = value;
      const error = toDataPathError(lost, target);
      expect(error.message).toMatch(/check whether the write took effect before sending it again/);
      expect(error.message).not.toMatch(/retrying the same event is safe/);
    }
  );
});
