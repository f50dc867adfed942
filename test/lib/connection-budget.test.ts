import { connectionBudget } from '../../lib/connection-budget';

const sandbox = {
  instanceMemoryMiB: 1024,
  reservedForOperators: 10,
  writerShare: 1 / 3,
  alarmAtShareOfMax: 0.8,
};

describe('connectionBudget', () => {
  test('derives max_connections from memory with the RDS formula (db.t4g.micro: 85)', () => {
    expect(connectionBudget(sandbox).maxConnections).toBe(85);
    expect(connectionBudget({ ...sandbox, instanceMemoryMiB: 4096 }).maxConnections).toBe(341);
  });

  test("the functions can never hold more connections than max_connections minus the operators' share", () => {
    for (const instanceMemoryMiB of [512, 1024, 2048, 4096, 16384]) {
      for (const writerShare of [0.1, 1 / 3, 0.5, 0.9]) {
        const b = connectionBudget({ ...sandbox, instanceMemoryMiB, writerShare });
        expect(b.writerConcurrency).toBeGreaterThanOrEqual(1);
        expect(b.readerConcurrency).toBeGreaterThanOrEqual(1);
        expect(b.writerConcurrency + b.readerConcurrency).toBe(
          b.maxConnections - sandbox.reservedForOperators
        );
      }
    }
  });

  test("splits the functions' connections by writerShare", () => {
    const b = connectionBudget(sandbox);
    expect([b.writerConcurrency, b.readerConcurrency]).toEqual([25, 50]);
  });

  test('alarms at the given share of max_connections, rounded up', () => {
    expect(connectionBudget(sandbox).alarmThreshold).toBe(68);
  });

  test.each([
    [
      'reservedForOperators',
      { reservedForOperators: 0 },
      /reservedForOperators must be a whole number from 1 to 83/,
    ],
    ['reservedForOperators', { reservedForOperators: 84 }, /choose a larger instance class/],
    ['writerShare', { writerShare: 1 }, /writerShare must be between/],
    ['alarmAtShareOfMax', { alarmAtShareOfMax: 1.5 }, /alarmAtShareOfMax must be between/],
    ['instanceMemoryMiB', { instanceMemoryMiB: Number.NaN }, /instanceMemoryMiB must be between/],
  ])('fails when %s is out of range', (_name, override, message) => {
    expect(() => connectionBudget({ ...sandbox, ...override })).toThrow(message);
  });
});
