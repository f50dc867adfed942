import { summarize } from '../lib/stats';
import { formatTable } from '../lib/table';

/**
 * Bookkeeping for one pattern's run of the demo: what the functions acknowledged, what readers
 * then saw, and how long each invocation took. Pure, so the rules are unit-tested.
 */
export class PatternTally {
  /** The value a client may expect to read: the last write that was acknowledged as done. */
  private acknowledged?: string;
  readonly latenciesMs: number[] = [];
  writes = 0;
  blockedWrites = 0;
  failedWrites = 0;
  reads = 0;
  staleReads = 0;
  failedReads = 0;
  readonly errors: string[] = [];

  /** The starting row, committed by a third client before the run. */
  seed(name: string): void {
    this.acknowledged = name;
  }

  /** A write by a function or by another client; `ms` only for function invocations. */
  write(outcome: { ok: boolean; name: string; ms?: number; error?: string }): void {
    this.writes++;
    if (outcome.ms !== undefined) {
      this.latenciesMs.push(outcome.ms);
    }
    if (outcome.ok) {
      this.acknowledged = outcome.name;
    } else if (isLockWait(outcome.error)) {
      this.blockedWrites++;
      this.note(outcome.error);
    } else {
      this.failedWrites++;
      this.note(outcome.error);
    }
  }

  /** A function read: stale when it does not return the last acknowledged write. */
  read(outcome: { ok: boolean; name?: string | null; ms: number; error?: string }): void {
    this.reads++;
    this.latenciesMs.push(outcome.ms);
    if (!outcome.ok) {
      this.failedReads++;
      this.note(outcome.error);
    } else if (outcome.name !== this.acknowledged) {
      this.staleReads++;
    }
  }

  get lastAcknowledged(): string | undefined {
    return this.acknowledged;
  }

  private note(error: string | undefined): void {
    if (error && !this.errors.includes(error) && this.errors.length < 5) {
      this.errors.push(error);
    }
  }
}

/** MySQL error 1205, however a driver or our handlers word it. */
export function isLockWait(error: string | undefined): boolean {
  return !!error && /ER_LOCK_WAIT_TIMEOUT|Lock wait timeout exceeded/i.test(error);
}

export interface PatternResult {
  readonly reads: number;
  readonly staleReads: number;
  readonly writes: number;
  readonly blockedWrites: number;
  readonly failedInvocations: number;
  readonly sleepingWhileFrozen: number;
  readonly thawInvocations: number;
  readonly failedAfterThaw: number;
  readonly peakConnections: number;
  readonly connectionsLeft: number;
  readonly lastWriteDurable: boolean;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly errors: readonly string[];
}

export function patternResult(
  tally: PatternTally,
  extra: Pick<
    PatternResult,
    | 'sleepingWhileFrozen'
    | 'thawInvocations'
    | 'failedAfterThaw'
    | 'peakConnections'
    | 'connectionsLeft'
    | 'lastWriteDurable'
  >
): PatternResult {
  const latency = summarize(tally.latenciesMs);
  return {
    reads: tally.reads,
    staleReads: tally.staleReads,
    writes: tally.writes,
    blockedWrites: tally.blockedWrites,
    failedInvocations: tally.failedWrites + tally.failedReads,
    latencyP50Ms: latency.p50,
    latencyP99Ms: latency.p99,
    errors: tally.errors,
    ...extra,
  };
}

/**
 * The side-by-side table of a demo run: aligned text for the terminal (`npm run demo`), or
 * markdown for docs/performance.md (`format`).
 */
export function demoTable(
  anti: PatternResult,
  shipped: PatternResult,
  frozenSeconds: number,
  format = formatTable
): string {
  const of = (n: number, total: number) => `${n} of ${total}`;
  const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : 'n/a');
  const rows: [string, (r: PatternResult) => string][] = [
    ['stale reads (missed an acknowledged write)', (r) => of(r.staleReads, r.reads)],
    ['blocked writes (lock wait timeout)', (r) => of(r.blockedWrites, r.writes)],
    ['other failed invocations', (r) => String(r.failedInvocations)],
    ['connections sleeping while frozen', (r) => String(r.sleepingWhileFrozen)],
    [
      `failed invocations after a ${frozenSeconds.toFixed(0)} s freeze`,
      (r) => of(r.failedAfterThaw, r.thawInvocations),
    ],
    ['last acknowledged write kept', (r) => (r.lastWriteDurable ? 'yes' : 'NO')],
    ['peak server sessions seen (sampled every 50 ms)', (r) => String(r.peakConnections)],
    ['connections left after the run', (r) => String(r.connectionsLeft)],
    ['invocation latency p50', (r) => ms(r.latencyP50Ms)],
    ['invocation latency p99', (r) => ms(r.latencyP99Ms)],
  ];
  return format(
    ['', 'module-scope connection (anti-pattern)', 'connection per invocation (shipped)'],
    rows.map(([label, cell]) => [label, cell(anti), cell(shipped)])
  );
}
