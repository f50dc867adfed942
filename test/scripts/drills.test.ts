import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DRILLS_BLOCK, OPERATIONS_DOC } from '../../scripts/drills/drills';
import { DrillsReport, drillsBlock } from '../../scripts/drills/drills-table';
import { blockIn } from '../../scripts/lib/readme-block';
import { readReport, REPORTS_DIR } from '../../scripts/lib/report';
import { DrillResult, drillProblems } from '../support/switchover-drill';

const held: DrillResult = {
  kind: 'lagging-name',
  writes: 120,
  reads: 70,
  acknowledgedWrites: 80,
  lostWrites: [],
  staleReads: [],
  failures: { DatabaseNotPrimaryError: 29, DatabaseReadOnlyError: 42 },
  unexpectedFailures: [],
  writesBackMs: 103,
  writeOutageMs: 134,
  refusedAfterSettling: 0,
};

describe('the switchover drills', () => {
  test('docs/operations.md shows the drills section of reports/bench.json, rendered, not typed', () => {
    const report = readReport(path.join(REPORTS_DIR, 'bench.json')).drills as DrillsReport;
    expect(report).toBeDefined();
    expect(blockIn(readFileSync(OPERATIONS_DOC, 'utf8'), DRILLS_BLOCK)).toBe(
      drillsBlock(report).trim()
    );
    // What was published held.
    expect(report.results.flatMap(drillProblems)).toEqual([]);
  });

  test('the block names failures by error, the outage and the losses', () => {
    const block = drillsBlock({
      measuredAt: '2026-12-07T05:00:00.000Z',
      machine: { cpus: 2, cpuModel: 'Test CPU', node: 'v24.9.0' },
      writers: 4,
      readers: 2,
      beforeMs: 2000,
      afterMs: 3000,
      laggingMs: 2000,
      promoteAfterMs: 300,
      results: [held],
    });
    expect(block).toContain('Measured 2026-12-07 on 2 × Test CPU, Node.js v24.9.0');
    expect(block).toContain(
      '| switchover, lagging name | 120 (80) | 70 | `DatabaseReadOnlyError` × 42, ' +
        '`DatabaseNotPrimaryError` × 29 | 134 ms | 103 ms | 0 | 0 |'
    );
  });

  test.each<[string, Partial<DrillResult>, RegExp]>([
    ['a lost write', { lostWrites: ['a@x: version 3 acknowledged, 2 found'] }, /lost writes/],
    ['a stale read', { staleReads: ['{"email":"a@x"} ...'] }, /stale reads/],
    ['an unnamed error', { unexpectedFailures: ['Error: boom'] }, /not named as retryable/],
    ['writes back after 1 s', { writesBackMs: 1500 }, /within 1 s of the move \(1500 ms\)/],
    ['writes never back', { writesBackMs: null }, /\(never ms\)/],
    ['a write refused once settled', { refusedAfterSettling: 2 }, /2 writes failed after/],
  ])('a drill with %s did not hold', (_, change, problem) => {
    expect(drillProblems({ ...held, ...change })).toEqual([expect.stringMatching(problem)]);
  });
});
