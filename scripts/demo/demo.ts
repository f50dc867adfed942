/**
 * `npm run demo`: the shipped handlers and the anti-pattern, side by side, each in six simulated
 * execution environments (3 writer, 3 reader) on one MySQL-compatible server, with the same
 * events. Prints what a person should see at a glance and saves the figures to
 * .reports/bench.json (reports/ with --update-reports). `npm run demo -- --help` lists the options.
 *
 * Bounded: 12 rounds, one freeze of wait_timeout + 1 s, every wait capped.
 */
import { Connection, RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from '../../test/support/app-database';
import { adminConnect, openServer } from '../../test/support/private-server';
import { buildRunBundles } from '../lib/bundles';
import { CliSpec, Io, ParsedOptions, exitWith, processIo, runCli } from '../lib/cli';
import { withCleanUp } from '../lib/cleanup';
import { setTimeout as pause } from 'node:timers/promises';
import { PeakSampler, pollUntil } from '../../test/support/poll';
import { LOCAL_DATABASE_NOTES, requireLocalDatabase } from '../../test/support/prerequisites';
import { SimulatedEnvironment } from '../../test/support/simulated-environment';
import { Progress } from '../lib/progress';
import { UPDATE_REPORTS_OPTION, machine, reportTarget, writeSection } from '../lib/report';
import { round } from '../lib/stats';
import { PatternResult, PatternTally, demoTable, patternResult } from './tally';

const ROUNDS = 12;
const ENVIRONMENTS_PER_ROLE = 3;
const WAIT_TIMEOUT_S = 6;
const LOCK_WAIT_TIMEOUT_S = 1;
const MAX_CONNECTIONS = 40;
const EMAIL = 'alice@example.com';

interface Pattern {
  readonly label: string;
  readonly db: AppDatabase;
  /** The "other client" of DESIGN.md: commits its own changes, as a person or a job would. */
  readonly other: Connection;
  readonly writers: SimulatedEnvironment[];
  readonly readers: SimulatedEnvironment[];
  readonly tally: PatternTally;
  readonly sampler: PeakSampler;
}

export const DEMO_CLI: CliSpec = {
  command: 'npm run demo',
  summary:
    'The shipped writer and reader next to the module-scope-connection anti-pattern, each in 6 ' +
    'simulated Lambda environments on one MySQL-compatible server (about 30 s): stale reads, ' +
    'sleeping connections, failures after a freeze. Prints a table and saves its figures.',
  options: [UPDATE_REPORTS_OPTION],
  notes: LOCAL_DATABASE_NOTES,
};

export function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCli(DEMO_CLI, argv, withCleanUp(demo), io);
}

async function demo(options: ParsedOptions): Promise<void> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  requireLocalDatabase();
  const target = reportTarget(options['update-reports'] === true);
  const started = Date.now();
  const progress = new Progress('demo', process.stderr, 3000);
  progress.update('starting the database and bundling the handlers');
  const [run, bundles] = await Promise.all([
    openServer({
      maxConnections: MAX_CONNECTIONS,
      waitTimeout: WAIT_TIMEOUT_S,
      lockWaitTimeout: LOCK_WAIT_TIMEOUT_S,
    }),
    buildRunBundles({ antiPattern: true }),
  ]);
  const patterns: Pattern[] = [];
  try {
    progress.update('starting 12 simulated environments');
    const setUp = async (
      label: string,
      writerBundle: string,
      readerBundle: string
    ): Promise<Pattern> => {
      const db = await AppDatabase.create(label, run.server);
      await db.admin.query("INSERT INTO users (email, name) VALUES (?, 'seed')", [EMAIL]);
      const other = await adminConnect(run.server, db.database);
      const start = (role: 'writer' | 'reader', file: string) =>
        Promise.all(
          Array.from({ length: ENVIRONMENTS_PER_ROLE }, (_, i) =>
            SimulatedEnvironment.start(`${label}-${role}-${i}`, file, db.env(role))
          )
        );
      const [writers, readers] = await Promise.all([
        start('writer', writerBundle),
        start('reader', readerBundle),
      ]);
      const tally = new PatternTally();
      tally.seed('seed');
      const sampler = new PeakSampler(async () => (await db.sessions()).length, 50);
      return { label, db, other, writers, readers, tally, sampler };
    };
    patterns.push(
      await setUp('demo_anti', bundles.antiPattern!, bundles.antiPattern!),
      await setUp('demo_shipped', bundles.handlers.writer.file, bundles.handlers.reader.file)
    );
    const [anti] = patterns;

    let done = 0;
    await Promise.all(
      patterns.map(async (p) => {
        for (let r = 0; r < ROUNDS; r++) {
          await playRound(p, r);
          done++;
          progress.update(`round ${Math.ceil(done / 2)} of ${ROUNDS}`);
        }
      })
    );

    // Freeze every environment, as Lambda does between invocations, for longer than wait_timeout.
    progress.update(
      `freezing all environments for ${WAIT_TIMEOUT_S + 1} s (server wait_timeout ${WAIT_TIMEOUT_S} s)`
    );
    const frozenAt = Date.now();
    patterns.forEach((p) => [...p.writers, ...p.readers].forEach((e) => e.freeze()));
    await pause(300); // let any in-flight QUIT reach the server
    const sleeping = await Promise.all(
      patterns.map(async (p) => (await p.db.sessions()).filter((s) => s.command === 'Sleep').length)
    );
    await pollUntil(
      () => anti.db.sessions(),
      (s) => s.length === 0,
      { withinMs: (WAIT_TIMEOUT_S + 4) * 1000, everyMs: 100 }
    );
    const frozenFor = Math.max(WAIT_TIMEOUT_S + 1, (Date.now() - frozenAt) / 1000);
    await pause(Math.max(0, frozenAt + frozenFor * 1000 - Date.now()));

    progress.update('thawing: one invocation per environment');
    const thaw = await Promise.all(patterns.map((p) => thawAndInvoke(p)));

    progress.update('destroying the environments');
    await Promise.all(patterns.flatMap((p) => [...p.writers, ...p.readers].map((e) => e.stop())));
    const left = await Promise.all(
      patterns.map(async (p) => (await p.db.waitForNoSessions()).length)
    );
    await Promise.all(patterns.map((p) => p.sampler.stop()));

    const results: PatternResult[] = await Promise.all(
      patterns.map(async (p, i) => {
        const [rows] = await p.db.admin.query<RowDataPacket[]>(
          'SELECT name FROM users WHERE email = ?',
          [EMAIL]
        );
        return patternResult(p.tally, {
          sleepingWhileFrozen: sleeping[i],
          thawInvocations: thaw[i].invocations,
          failedAfterThaw: thaw[i].failed,
          peakConnections: p.sampler.peak,
          connectionsLeft: left[i],
          lastWriteDurable: rows[0]?.name === p.tally.lastAcknowledged,
        });
      })
    );
    const [antiResult, shippedResult] = results;

    const seconds = (Date.now() - started) / 1000;
    progress.done('finished');

    console.log(
      `\n${ROUNDS} rounds of: a writer environment (or another client, every third round) changes the name of ${EMAIL},` +
        `\nthen a reader environment reads it. ${ENVIRONMENTS_PER_ROLE} writer + ${ENVIRONMENTS_PER_ROLE} reader environments per pattern` +
        ` on ${run.description},\nmax_connections ${MAX_CONNECTIONS}, wait_timeout ${WAIT_TIMEOUT_S} s, innodb_lock_wait_timeout ${LOCK_WAIT_TIMEOUT_S} s.\n`
    );
    console.log(demoTable(antiResult, shippedResult, frozenFor));
    const firstErrors = [...new Set([...antiResult.errors, ...thaw[0].errors])].slice(0, 4);
    if (firstErrors.length > 0) {
      console.log(
        `\nWhat the anti-pattern's callers saw:\n${firstErrors.map((e) => `  - ${e.slice(0, 160)}`).join('\n')}`
      );
    }

    writeSection(
      'demo',
      {
        measuredAt: new Date().toISOString(),
        machine: machine(),
        server: run.description,
        settings: {
          rounds: ROUNDS,
          environmentsPerRole: ENVIRONMENTS_PER_ROLE,
          maxConnections: MAX_CONNECTIONS,
          waitTimeoutS: WAIT_TIMEOUT_S,
          lockWaitTimeoutS: LOCK_WAIT_TIMEOUT_S,
        },
        frozenSeconds: round(frozenFor, 1),
        antiPattern: roundResult(antiResult),
        shipped: roundResult(shippedResult),
        seconds: round(seconds, 1),
      },
      target.benchJson
    );
  } finally {
    await Promise.all(patterns.flatMap((p) => [...p.writers, ...p.readers].map((e) => e.stop())));
    for (const p of patterns) {
      await p.sampler.stop();
      await p.other.end().catch(() => undefined);
      await p.db.dispose().catch(() => undefined);
    }
    bundles.dispose();
    await run.close();
  }
}

/** Round r: a writer environment (or, every third round, another client) writes; a reader environment reads. */
async function playRound(p: Pattern, r: number): Promise<void> {
  const name = `name-${r}`;
  if (r % 3 === 2) {
    try {
      await p.other.query('UPDATE users SET name = ?, version = version + 1 WHERE email = ?', [
        name,
        EMAIL,
      ]);
      p.tally.write({ ok: true, name });
    } catch (error) {
      p.tally.write({
        ok: false,
        name,
        error: `${(error as { code?: string }).code}: ${(error as Error).message}`,
      });
    }
  } else {
    // r - floor(r/3) counts the writer rounds before this one, so every writer environment gets turns.
    const outcome = await p.writers[(r - Math.floor(r / 3)) % ENVIRONMENTS_PER_ROLE].invoke({
      email: EMAIL,
      name,
    });
    p.tally.write({ ok: outcome.ok, name, ms: outcome.ms, error: outcome.error });
  }
  const read = await p.readers[r % ENVIRONMENTS_PER_ROLE].invoke<{ user: { name: string } | null }>(
    { email: EMAIL }
  );
  p.tally.read({
    ok: read.ok,
    name: read.result?.user?.name ?? null,
    ms: read.ms,
    error: read.error,
  });
}

async function thawAndInvoke(
  p: Pattern
): Promise<{ invocations: number; failed: number; errors: string[] }> {
  const all = [...p.writers, ...p.readers];
  all.forEach((e) => e.thaw());
  // The functions' 10 s timeout: the shipped handlers send no statement with less time left
  // than the server may take (lambda/lib/server-bounds.ts).
  const outcomes = await Promise.all([
    ...p.writers.map((e) => e.invoke({ email: EMAIL, name: 'after-thaw' }, 10_000)),
    ...p.readers.map((e) => e.invoke({ email: EMAIL }, 10_000)),
  ]);
  outcomes.slice(0, p.writers.length).forEach((o) => o.ok && p.tally.seed('after-thaw'));
  const errors = outcomes.filter((o) => !o.ok).map((o) => `after the freeze: ${o.error}`);
  return { invocations: outcomes.length, failed: errors.length, errors };
}

function roundResult(r: PatternResult): PatternResult {
  return { ...r, latencyP50Ms: round(r.latencyP50Ms), latencyP99Ms: round(r.latencyP99Ms) };
}

if (require.main === module) {
  exitWith('demo', main(process.argv.slice(2)));
}
