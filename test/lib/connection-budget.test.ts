import {
  connectionBudget,
  proxyConnectionBudget,
  RDS_MYSQL_BYTES_PER_CONNECTION,
  RDS_USABLE_MEMORY_SHARE,
} from '../../lib/connection-budget';

const sandbox = {
  instanceMemoryMiB: 1024,
  reservedForOperators: 10,
  writerShare: 1 / 3,
  alarmAtShareOfMax: 0.8,
};

describe('connectionBudget', () => {
  test('derives max_connections with the RDS formula from the memory the class really has (db.t4g.micro: 64, not 85)', () => {
    expect(connectionBudget(sandbox).maxConnections).toBe(64);
    expect(connectionBudget({ ...sandbox, instanceMemoryMiB: 4096 }).maxConnections).toBe(256);
    expect(connectionBudget(sandbox).usableMemoryBytes).toBe(768 * 1024 ** 2);
  });

  test('never pins more connections than RDS gives the class by default (observed: 66 on 1 GiB, 150 on 2 GiB, 312 on 4 GiB)', () => {
    for (const [instanceMemoryMiB, rdsDefault] of [
      [1024, 66],
      [2048, 150],
      [4096, 312],
    ]) {
      const { maxConnections } = connectionBudget({ ...sandbox, instanceMemoryMiB });
      expect(maxConnections).toBeLessThanOrEqual(rdsDefault);
      // ... and always less than the nominal memory would give.
      expect(maxConnections).toBeLessThan(
        Math.floor((instanceMemoryMiB * 1024 ** 2) / RDS_MYSQL_BYTES_PER_CONNECTION)
      );
    }
    expect(RDS_USABLE_MEMORY_SHARE).toBeLessThan(1);
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
    expect([b.writerConcurrency, b.readerConcurrency]).toEqual([18, 36]);
  });

  test('alarms at the given share of max_connections, rounded up', () => {
    expect(connectionBudget(sandbox).alarmThreshold).toBe(52);
  });

  test.each([
    [
      'reservedForOperators',
      { reservedForOperators: 0 },
      /reservedForOperators must be a whole number from 1 to 62/,
    ],
    ['reservedForOperators', { reservedForOperators: 63 }, /choose a larger instance class/],
    ['writerShare', { writerShare: 1 }, /writerShare must be between/],
    ['alarmAtShareOfMax', { alarmAtShareOfMax: 1.5 }, /alarmAtShareOfMax must be between/],
    ['instanceMemoryMiB', { instanceMemoryMiB: Number.NaN }, /instanceMemoryMiB must be between/],
  ])('fails when %s is out of range', (_name, override, message) => {
    expect(() => connectionBudget({ ...sandbox, ...override })).toThrow(message);
  });
});

describe('proxyConnectionBudget', () => {
  const direct = connectionBudget(sandbox);
  const proxied = {
    direct,
    reservedForOperators: 10,
    writerShare: 1 / 3,
    clientsPerServerConnection: 4,
    concurrencyCap: 300,
  };

  test('leaves the operators their connections: the proxy pool plus them fits in max_connections', () => {
    const budget = proxyConnectionBudget(proxied);
    expect(budget.maxConnectionsPercent).toBe(84);
    expect(budget.serverConnections).toBe(53);
    expect(budget.serverConnections + 10).toBeLessThanOrEqual(direct.maxConnections);
    expect(budget.maxIdleConnectionsPercent).toBeLessThanOrEqual(budget.maxConnectionsPercent);
  });

  test('bounds concurrency by the pool times clients per server connection, not by max_connections', () => {
    const budget = proxyConnectionBudget(proxied);
    expect(budget.writerConcurrency + budget.readerConcurrency).toBe(53 * 4);
    expect(budget.writerConcurrency + budget.readerConcurrency).toBeGreaterThan(
      direct.writerConcurrency + direct.readerConcurrency
    );
    expect(budget.clientConnectionsAlarmThreshold).toBe(Math.ceil(212 * 0.8));
  });

  test('never exceeds the concurrency cap (the Lambda account share)', () => {
    const prod = proxyConnectionBudget({
      ...proxied,
      direct: connectionBudget({ ...sandbox, instanceMemoryMiB: 4096 }),
    });
    expect(prod.writerConcurrency + prod.readerConcurrency).toBe(300);
    expect(prod.writerConcurrency).toBe(100);
  });

  test('fails when reservedForOperators leaves the proxy no pool', () => {
    expect(() => proxyConnectionBudget({ ...proxied, reservedForOperators: 63 })).toThrow(
      /reservedForOperators must be a whole number from 1 to 62/
    );
    expect(() => proxyConnectionBudget({ ...proxied, clientsPerServerConnection: 0 })).toThrow(
      /clientsPerServerConnection/
    );
  });
});
