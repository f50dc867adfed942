import {
  connectionBudget,
  proxyConnectionBudget,
  RDS_MYSQL_BYTES_PER_CONNECTION,
  RDS_USABLE_MEMORY_SHARE,
  reservedConnections,
  splitByShare,
} from '../../lib/connection-budget';
import { DATA_FUNCTIONS } from '../../lib/declared-functions';

const reserved = { migration: 1, rotation: 3, operators: 6, initPreparation: 1 };
const reservedTotal = 11;
// Two functions split 1 : 2, the second reading replicas (the shipped writer and reader's shape).
const two = [
  { name: 'a', connectionShare: 1 },
  { name: 'b', connectionShare: 2, readsReplicas: true },
];
const sandbox = {
  instanceMemoryMiB: 1024,
  reserved,
  functions: two,
};
const sum = (concurrency: Readonly<Record<string, number>>) =>
  Object.values(concurrency).reduce((total, n) => total + n, 0);

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

  test('the stack reserves one connection for the migration, one per rotated secret (the admin and each function), six for people and one for an init preparation', () => {
    expect(reservedConnections(2)).toEqual(reserved);
    expect(reservedConnections(3)).toEqual({ ...reserved, rotation: 4 });
  });

  test('the functions can never hold more connections than max_connections minus the reserved ones', () => {
    for (const instanceMemoryMiB of [512, 1024, 2048, 4096, 16384]) {
      for (const shares of [
        [0.1, 0.9],
        [1, 2],
        [1, 1],
        [9, 1],
        [1, 2, 0.5],
        [1, 1, 1, 1, 1],
      ]) {
        const functions = shares.map((connectionShare, i) => ({ name: `f${i}`, connectionShare }));
        const b = connectionBudget({ ...sandbox, instanceMemoryMiB, functions });
        expect(Object.keys(b.concurrency)).toEqual(functions.map((f) => f.name));
        for (const n of Object.values(b.concurrency)) expect(n).toBeGreaterThanOrEqual(1);
        expect(sum(b.concurrency)).toBe(b.maxConnections - reservedTotal);
      }
    }
  });

  test("splits the functions' connections by their shares, the rounding remainder to the largest", () => {
    expect(connectionBudget(sandbox).concurrency).toEqual({ a: 17, b: 36 });
    expect(splitByShare(55, two)).toEqual({ a: 18, b: 37 });
    expect(splitByShare(10, [...two, { name: 'c', connectionShare: 0.01 }])).toEqual({
      a: 3,
      b: 6,
      c: 1,
    });
    expect(() => splitByShare(2, [...two, { name: 'c', connectionShare: 1 }])).toThrow(
      /2 connections cannot give each of the 3 data functions one/
    );
  });

  test('the shipped functions split sandbox: writer 17, reader 36', () => {
    const b = connectionBudget({ ...sandbox, functions: DATA_FUNCTIONS });
    expect(b.concurrency).toEqual({ writer: 17, reader: 36 });
  });

  test('alarms one above the healthy peak: functions, migration, rotation and an init preparation all at their most', () => {
    const b = connectionBudget(sandbox);
    expect(b.primaryPeakConnections).toBe(53 + 1 + 3 + 1);
    expect(b.alarmThreshold).toBe(59);
    // Only what the operators' reserve holds can reach it.
    expect(b.alarmThreshold).toBeLessThanOrEqual(b.maxConnections);
    expect(b.maxConnections - b.primaryPeakConnections).toBe(reserved.operators);
  });

  test('a replica (same max_connections) holds every replica reader and keeps the operators their share', () => {
    const b = connectionBudget({ ...sandbox, readReplicas: 2 });
    expect(b.replicaConnectionsForReaders).toBe(64 - 6 - 1);
    expect(b.concurrency.b).toBeLessThanOrEqual(b.replicaConnectionsForReaders);
    expect(b.replicaAlarmThreshold).toBe(b.concurrency.b + 1 + 1);
  });

  test.each([
    [
      'reserved.operators',
      { reserved: { ...reserved, operators: 0 } },
      /reserved.operators must be a whole number of at least 1, got 0/,
    ],
    [
      'reserved.migration',
      { reserved: { ...reserved, migration: 1.5 } },
      /reserved.migration must be a whole number, got 1.5/,
    ],
    ['reserved', { reserved: { ...reserved, operators: 59 } }, /choose a larger instance class/],
    [
      'connectionShare',
      { functions: [{ name: 'a', connectionShare: 0 }, two[1]] },
      /a's connectionShare must be between/,
    ],
    ['readReplicas', { readReplicas: 16 }, /readReplicas must be a whole number from 0 to 15/],
    ['instanceMemoryMiB', { instanceMemoryMiB: Number.NaN }, /instanceMemoryMiB must be between/],
  ])('fails when %s is out of range', (_name, override, message) => {
    expect(() => connectionBudget({ ...sandbox, ...override })).toThrow(message);
  });
});

describe('proxyConnectionBudget', () => {
  const direct = connectionBudget(sandbox);
  const proxied = {
    direct,
    functions: two,
    clientsPerServerConnection: 4,
    concurrencyCap: 300,
  };

  test('leaves the operators their connections: the proxy pool plus them fits in max_connections', () => {
    const budget = proxyConnectionBudget(proxied);
    expect(budget.maxConnectionsPercent).toBe(82);
    expect(budget.serverConnections).toBe(52);
    expect(budget.serverConnections + 11).toBeLessThanOrEqual(direct.maxConnections);
    expect(budget.maxIdleConnectionsPercent).toBeLessThanOrEqual(budget.maxConnectionsPercent);
  });

  test('bounds concurrency by the pool times clients per server connection, not by max_connections', () => {
    const budget = proxyConnectionBudget(proxied);
    expect(sum(budget.concurrency)).toBe(52 * 4);
    expect(sum(budget.concurrency)).toBeGreaterThan(sum(direct.concurrency));
    // Above the healthy peak, where every environment holds its one client connection and one
    // more initialises ahead of a request.
    expect(budget.clientConnectionsAlarmThreshold).toBe(208 + 1 + 1);
  });

  test('never exceeds the concurrency cap (the Lambda account share)', () => {
    const prod = proxyConnectionBudget({
      ...proxied,
      direct: connectionBudget({ ...sandbox, instanceMemoryMiB: 4096 }),
    });
    expect(sum(prod.concurrency)).toBe(300);
    expect(prod.concurrency.a).toBe(100);
  });

  test('fails when a switch is out of range', () => {
    expect(() => proxyConnectionBudget({ ...proxied, clientsPerServerConnection: 0 })).toThrow(
      /clientsPerServerConnection/
    );
    expect(() => proxyConnectionBudget({ ...proxied, readReplicas: -1 })).toThrow(/readReplicas/);
  });

  test('the pool, the migration and rotation fill max_connections but for the operators; the alarm sits above them', () => {
    for (const instanceMemoryMiB of [1024, 4096]) {
      const d = connectionBudget({ ...sandbox, instanceMemoryMiB });
      const budget = proxyConnectionBudget({ ...proxied, direct: d });
      expect(budget.serverConnections + 1 + 3 + 6 + 1).toBeLessThanOrEqual(d.maxConnections);
      expect(budget.primaryPeakConnections).toBe(budget.serverConnections + 1 + 3);
      expect(budget.alarmThreshold).toBe(budget.primaryPeakConnections + 1);
      expect(budget.alarmThreshold).toBeLessThanOrEqual(d.maxConnections);
    }
    expect(proxyConnectionBudget(proxied).alarmThreshold).toBe(57);
  });

  test('with replicas the replica reader gets no more than a replica holds, since it reads them directly', () => {
    const withReplicas = proxyConnectionBudget({
      ...proxied,
      direct: connectionBudget({ ...sandbox, readReplicas: 2 }),
      readReplicas: 2,
    });
    expect(withReplicas.concurrency).toEqual({ a: 69, b: 64 - 6 - 1 });
    expect(withReplicas.replicaAlarmThreshold).toBe(57 + 1 + 1);
    // Without replicas the reader keeps its share of the proxy's budget.
    expect(proxyConnectionBudget(proxied).concurrency.b).toBe(139);
    // prod: 200 fit a db.t4g.medium replica (256 - 6 - 1), so nothing changes there.
    const prodDirect = connectionBudget({ ...sandbox, instanceMemoryMiB: 4096, readReplicas: 1 });
    const prod = proxyConnectionBudget({ ...proxied, direct: prodDirect, readReplicas: 1 });
    expect(prod.concurrency).toEqual({ a: 100, b: 200 });
  });

  test('several replica readers share what a replica holds, by their shares', () => {
    const functions = [...two, { name: 'c', connectionShare: 2, readsReplicas: true }];
    const d = connectionBudget({ ...sandbox, functions, readReplicas: 2 });
    const budget = proxyConnectionBudget({ ...proxied, functions, direct: d, readReplicas: 2 });
    expect(budget.concurrency.b + budget.concurrency.c).toBeLessThanOrEqual(64 - 6 - 1);
    expect(budget.replicaAlarmThreshold).toBe(budget.concurrency.b + budget.concurrency.c + 1 + 1);
  });
});
