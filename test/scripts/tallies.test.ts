import { PatternTally, demoTable, isLockWait, patternResult } from '../../scripts/demo/tally';
import { WriteLedger } from '../../scripts/load/ledger';
import { LoadResult, environmentsOf, loadPassed, loadTable } from '../../scripts/load/load-test';

describe('demo bookkeeping', () => {
  test('a read that misses the last acknowledged write is stale, whoever acknowledged it', () => {
    const tally = new PatternTally();
    tally.seed('seed');
    tally.read({ ok: true, name: 'seed', ms: 1 });
    tally.write({ ok: true, name: 'v1', ms: 2 });
    tally.read({ ok: true, name: 'seed', ms: 1 }); // the function said v1 was written
    tally.write({ ok: true, name: 'v2' }); // another client, committed
    tally.read({ ok: true, name: 'v2', ms: 1 });
    expect(tally).toMatchObject({ reads: 3, staleReads: 1, writes: 2, blockedWrites: 0 });
    expect(tally.latenciesMs).toEqual([1, 2, 1, 1]); // the other client's write is not an invocation
  });

  test('lock wait timeouts count as blocked writes; the value to expect stays the last acknowledged one', () => {
    const tally = new PatternTally();
    tally.seed('seed');
    tally.write({
      ok: false,
      name: 'v1',
      ms: 1000,
      error: 'ER_LOCK_WAIT_TIMEOUT: Lock wait timeout exceeded; try restarting transaction',
    });
    tally.write({ ok: false, name: 'v2', ms: 5, error: 'DatabaseConnectionLostError: closed' });
    expect(tally).toMatchObject({ blockedWrites: 1, failedWrites: 1, lastAcknowledged: 'seed' });
    expect(isLockWait('Error: Lock wait timeout exceeded')).toBe(true);
    expect(isLockWait(undefined)).toBe(false);
  });

  test('the demo table shows both patterns side by side', () => {
    const tally = new PatternTally();
    tally.seed('a');
    tally.read({ ok: true, name: 'a', ms: 3 });
    const extra = {
      sleepingWhileFrozen: 6,
      thawInvocations: 6,
      failedAfterThaw: 6,
      peakConnections: 6,
      connectionsLeft: 0,
      lastWriteDurable: false,
    };
    const anti = patternResult(tally, extra);
    const shipped = patternResult(tally, {
      ...extra,
      sleepingWhileFrozen: 0,
      failedAfterThaw: 0,
      lastWriteDurable: true,
    });
    const lines = demoTable(anti, shipped, 7).split('\n');
    expect(lines[0]).toMatch(
      /module-scope connection \(anti-pattern\)\s+connection per invocation \(shipped\)$/
    );
    expect(lines.find((l) => l.startsWith('connections sleeping while frozen'))).toMatch(/6\s+0$/);
    expect(lines.find((l) => l.startsWith('failed invocations after a 7 s freeze'))).toMatch(
      /6 of 6\s+0 of 6$/
    );
    expect(lines.find((l) => l.startsWith('last acknowledged write kept'))).toMatch(/NO\s+yes$/);
  });
});

describe('load test bookkeeping', () => {
  test('a read started after an acknowledgement must see at least that version', () => {
    const ledger = new WriteLedger();
    expect(ledger.expectation('a@x.io')).toBe(0);
    expect(ledger.checkRead(0, null)).toBe(false); // nothing acknowledged yet: null is fine
    ledger.acknowledge('a@x.io', { version: 2, name: 'two' });
    ledger.acknowledge('a@x.io', { version: 1, name: 'late reply of an older write' });
    const expected = ledger.expectation('a@x.io');
    expect(expected).toBe(2);
    expect(ledger.checkRead(expected, { version: 3 })).toBe(false);
    expect(ledger.checkRead(expected, { version: 1 })).toBe(true);
    expect(ledger.checkRead(expected, null)).toBe(true);
    expect(ledger.staleReads).toBe(2);
  });

  test('an acknowledged write missing from the table is lost', () => {
    const ledger = new WriteLedger();
    ledger.acknowledge('a@x.io', { version: 3, name: 'a' });
    ledger.acknowledge('b@x.io', { version: 1, name: 'b' });
    ledger.acknowledge('c@x.io', { version: 1, name: 'c' });
    expect(
      ledger.lostWrites([
        { email: 'a@x.io', version: 2 },
        { email: 'b@x.io', version: 4 },
      ])
    ).toEqual([
      { email: 'a@x.io', expected: 3, found: 2 },
      { email: 'c@x.io', expected: 1, found: null },
    ]);
  });

  const result: LoadResult = {
    server: 'test',
    environments: 24,
    maxConnections: 8,
    connectionBudget: 7,
    seconds: 15,
    invocations: 3000,
    throughputPerSecond: 200,
    writer: { count: 1500, p50: 40, p99: 900, min: 5, max: 1000, mean: 60 },
    reader: { count: 1500, p50: 35, p99: 800, min: 5, max: 900, mean: 50 },
    failedInvocations: 0,
    failures: [],
    staleReads: 0,
    lostWrites: 0,
    peakFunctionConnections: 7,
    serverMaxUsedConnections: 11,
    connectionsLeftAfterRun: 0,
  };

  test('every goal is checked, and a miss is marked', () => {
    expect(loadPassed(result)).toBe(true);
    expect(loadTable(result)).toMatch(
      /peak function connections \(sampled every 20 ms\)\s+7\s+≤ 7\s+ok/
    );
    const over = { ...result, peakFunctionConnections: 8, connectionsLeftAfterRun: 1 };
    expect(loadPassed(over)).toBe(false);
    expect(loadTable(over)).toMatch(
      /peak function connections \(sampled every 20 ms\)\s+8\s+≤ 7\s+MISSED/
    );
    expect(loadTable(over)).toMatch(/connections left after the run\s+1\s+0\s+MISSED/);
    expect(loadPassed({ ...result, failedInvocations: 1 })).toBe(false);
    expect(loadPassed({ ...result, staleReads: 1 })).toBe(false);
    expect(loadPassed({ ...result, lostWrites: 1 })).toBe(false);
  });

  test('a direct run names the reserved concurrency and environments of each function', () => {
    const direct: LoadResult = {
      ...result,
      route: 'direct',
      environments: 7,
      environmentsByFunction: { writer: 2, reader: 5 },
      reservedConcurrency: { writer: 2, reader: 5 },
    };
    expect(loadTable(direct)).toMatch(/reserved concurrency\s+writer 2, reader 5/);
    expect(environmentsOf(direct)).toBe('7 environments (writer 2, reader 5)');
    // A report from before environments could differ per function.
    expect(environmentsOf(result)).toBe('24 environments (writer 12, reader 12)');
  });
});
