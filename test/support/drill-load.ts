import { WriteLedger } from '../../scripts/load/ledger';
import { HANG_MS } from './poll';
import { InvocationOutcome, SimulatedEnvironment } from './simulated-environment';

/** The load a drill runs across a move (switchover-drill.ts), and how its outcome is judged. */

export type DrillKind = 'switchover' | 'failover' | 'lagging-name' | 'proxy-switchover';

export const DRILL_KINDS: readonly DrillKind[] = [
  'switchover',
  'failover',
  'lagging-name',
  'proxy-switchover',
];

/**
 * The errors a move may cost an invocation: each is named, says nothing was written (or that
 * the write is an idempotent upsert), and says to retry. Any other error fails a drill.
 */
export const RETRYABLE_DURING_A_MOVE: readonly string[] = [
  'DatabaseReadOnlyError',
  'DatabaseNotPrimaryError',
  'DatabaseConnectionLostError',
  'DatabaseUnreachableError',
];

export interface DrillResult {
  readonly kind: DrillKind;
  readonly writes: number;
  readonly reads: number;
  readonly acknowledgedWrites: number;
  /** Acknowledged writes missing from the new primary's table at the end. */
  readonly lostWrites: readonly string[];
  /** Reads labelled "primary" older than a write acknowledged before they began. */
  readonly staleReads: readonly string[];
  /** Failed invocations by error name. */
  readonly failures: Readonly<Record<string, number>>;
  /** Failures whose name is not in RETRYABLE_DURING_A_MOVE, with their message. */
  readonly unexpectedFailures: readonly string[];
  /**
   * From the move (the name moved) to the start of the first write after it that was
   * acknowledged, ms: how long writes stayed refused once the name pointed at the new primary.
   */
  readonly writesBackMs: number | null;
  /** From the first refused write's failure to the start of the next acknowledged one, ms (0: none refused). */
  readonly writeOutageMs: number;
  /**
   * Writes that started once the move had settled (the new primary writable, the name no longer
   * lagging) and still failed: there must be none, whatever the machine's speed.
   */
  readonly refusedAfterSettling: number;
}

/** Whether the drill held: nothing lost, nothing stale, only retryable errors, writes back within 1 s. */
export function drillProblems(result: DrillResult): string[] {
  const problems: string[] = [];
  if (result.lostWrites.length > 0) problems.push(`lost writes: ${result.lostWrites.join('; ')}`);
  if (result.staleReads.length > 0) problems.push(`stale reads: ${result.staleReads.join('; ')}`);
  if (result.unexpectedFailures.length > 0) {
    problems.push(`errors not named as retryable: ${result.unexpectedFailures.join('; ')}`);
  }
  if (result.writesBackMs === null || result.writesBackMs > 1000) {
    problems.push(`writes not back within 1 s of the move (${result.writesBackMs ?? 'never'} ms)`);
  }
  if (result.refusedAfterSettling > 0) {
    problems.push(`${result.refusedAfterSettling} writes failed after the move had settled`);
  }
  return problems;
}

interface Failure {
  readonly name: string;
  readonly message: string;
}

/**
 * Writers upsert their own emails (three each, a new name every time), readers read any of them,
 * `{ email }` and `{ email, minVersion }` in turn, back to back until stopped. Every read is
 * checked against the ledger as it stood when the read began.
 */
export class Load {
  private running = true;
  private readonly ledger = new WriteLedger();
  private readonly emails: string[];
  /** When each completed read started (performance.now() ms). */
  private readonly readStarts: number[] = [];
  private readonly failures: Failure[] = [];
  private readonly staleReads: string[] = [];
  /** [started, acknowledged, ended] of every write, in performance.now() ms. */
  private readonly writeLog: [number, boolean, number][] = [];

  constructor(
    private readonly writers: SimulatedEnvironment[],
    private readonly readers: SimulatedEnvironment[]
  ) {
    this.emails = writers.flatMap((_, w) => range(3).map((k) => `w${w}-${k}@drill.example`));
  }

  run(): Promise<unknown> {
    return Promise.all([
      ...this.writers.map((env, w) => this.writeLoop(env, w)),
      ...this.readers.map((env, r) => this.readLoop(env, r)),
    ]);
  }

  /**
   * Resolves once `count` writes were acknowledged and `count` reads completed that started at
   * or after `since`; rejects after HANG_MS (a hang, not a slow machine).
   */
  async progressed(since: number, count: number): Promise<void> {
    const done = () =>
      this.writeLog.filter(([started, ok]) => ok && started >= since).length >= count &&
      this.readStarts.filter((started) => started >= since).length >= count;
    const deadline = performance.now() + HANG_MS;
    while (!done()) {
      if (performance.now() > deadline || !this.running) {
        throw new Error(`the load did not reach ${count} writes and reads within ${HANG_MS} ms`);
      }
      await sleep(10);
    }
  }

  async stop(running: Promise<unknown>): Promise<void> {
    this.running = false;
    await running;
  }

  /** Stops issuing invocations without waiting (a drill that failed). */
  halt(): void {
    this.running = false;
  }

  private async writeLoop(env: SimulatedEnvironment, w: number): Promise<void> {
    for (let seq = 0; this.running; seq++) {
      const email = `w${w}-${seq % 3}@drill.example`;
      const started = performance.now();
      const outcome = await env.invoke<{ user: { version: number; name: string } }>({
        email,
        name: `write ${seq}`,
      });
      this.writeLog.push([started, outcome.ok, performance.now()]);
      if (outcome.ok) {
        this.ledger.acknowledge(email, outcome.result!.user);
      } else {
        this.fail(outcome);
      }
    }
  }

  private async readLoop(env: SimulatedEnvironment, r: number): Promise<void> {
    for (let seq = 0; this.running; seq++) {
      const email = this.emails[(seq * 7 + r) % this.emails.length];
      const expected = this.ledger.expectation(email); // before the read begins
      const event = seq % 2 === 0 || expected === 0 ? { email } : { email, minVersion: expected };
      const started = performance.now();
      const outcome = await env.invoke<{ user: { version: number } | null; servedBy: string }>(
        event
      );
      this.readStarts.push(started);
      if (!outcome.ok) {
        this.fail(outcome);
      } else if (
        outcome.result!.servedBy === 'primary' &&
        this.ledger.checkRead(expected, outcome.result!.user)
      ) {
        this.staleReads.push(
          `${JSON.stringify(event)} after version ${expected} was acknowledged: ` +
            `${JSON.stringify(outcome.result)}`
        );
      }
    }
  }

  private fail(outcome: InvocationOutcome): void {
    this.failures.push({ name: outcome.errorName ?? 'Error', message: outcome.errorMessage ?? '' });
  }

  result(
    kind: DrillKind,
    moved: { at: number; settledAt: number },
    rows: readonly { email: string; version: number }[]
  ): DrillResult {
    const failures: Record<string, number> = {};
    for (const { name } of this.failures) failures[name] = (failures[name] ?? 0) + 1;
    const startOfFirstOk = (after: number) =>
      this.writeLog.find(([started, ok]) => ok && started >= after)?.[0];
    const backAt = startOfFirstOk(moved.at);
    const firstRefused = this.writeLog.find(([, ok]) => !ok)?.[2]; // when it failed
    const outageEnd = firstRefused === undefined ? undefined : startOfFirstOk(firstRefused);
    return {
      kind,
      writes: this.writeLog.length,
      reads: this.readStarts.length,
      acknowledgedWrites: this.writeLog.filter(([, ok]) => ok).length,
      lostWrites: this.ledger
        .lostWrites(rows)
        .map((l) => `${l.email}: version ${l.expected} acknowledged, ${l.found ?? 'no row'} found`),
      staleReads: this.staleReads,
      failures,
      unexpectedFailures: this.failures
        .filter((f) => !RETRYABLE_DURING_A_MOVE.includes(f.name))
        .map((f) => `${f.name}: ${f.message}`),
      writesBackMs: backAt === undefined ? null : Math.round(backAt - moved.at),
      writeOutageMs:
        firstRefused === undefined
          ? 0
          : Math.round((outageEnd ?? performance.now()) - firstRefused),
      refusedAfterSettling: this.writeLog.filter(
        ([started, ok]) => !ok && started >= moved.settledAt
      ).length,
    };
  }
}

export const range = (n: number) => Array.from({ length: n }, (_, i) => i);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
