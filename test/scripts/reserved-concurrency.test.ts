import { setTimeout as sleep } from 'node:timers/promises';
import { ReservedConcurrency } from '../../scripts/load/reserved-concurrency';

describe('the load test’s reserved concurrency', () => {
  test('runs every invocation, never more than the limit at once', async () => {
    const limit = new ReservedConcurrency(3);
    let running = 0;
    let peak = 0;
    const done = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limit.run(async () => {
          peak = Math.max(peak, ++running);
          await sleep(i % 4);
          running--;
          return i;
        })
      )
    );
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3);
  });

  test('a failed invocation frees its slot', async () => {
    const limit = new ReservedConcurrency(1);
    await expect(limit.run(() => Promise.reject(new Error('handler failed')))).rejects.toThrow(
      'handler failed'
    );
    await expect(limit.run(async () => 'next')).resolves.toBe('next');
  });

  test('refuses a limit Lambda would refuse, and a missing one', () => {
    expect(() => new ReservedConcurrency(0)).toThrow('at least 1, got 0');
    expect(() => new ReservedConcurrency(undefined as unknown as number)).toThrow('got undefined');
  });
});
