import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
/** The committed reports, which the README's generated figures come from. */
export const REPORTS_DIR = path.join(ROOT, 'reports');
export const BENCH_JSON = path.join(REPORTS_DIR, 'bench.json');
/** Where a run's reports go unless the user asks to update the committed ones (git-ignored). */
export const SCRATCH_DIR = path.join(ROOT, '.reports');

/** The option demo, load and bench take to write the committed reports instead of .reports/. */
export const UPDATE_REPORTS_OPTION = {
  name: 'update-reports',
  help: 'Write the committed reports/ (and the generated figures) instead of .reports/.',
} as const;

/** Where a run writes: the committed reports/ when asked to update them, else .reports/ (ignored). */
export function reportTarget(update: boolean): { dir: string; benchJson: string } {
  const dir = update ? REPORTS_DIR : SCRATCH_DIR;
  return { dir, benchJson: path.join(dir, 'bench.json') };
}

/** Facts about the run that make figures comparable (or not) with another machine's. */
export function machine(): Record<string, string | number> {
  return {
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
  };
}

/**
 * reports/bench.json holds one section per command (demo, load, latency, bundles, synth), each
 * replaced by the command that measures it, so `npm run demo` does not erase the bench's figures.
 */
export function readReport(file = BENCH_JSON): Record<string, unknown> {
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)
    : {};
}

export function writeSection(section: string, value: unknown, file = BENCH_JSON): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const report = { ...readReport(file), [section]: value };
  const ordered = Object.fromEntries(Object.entries(report).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(file, JSON.stringify(ordered, null, 2) + '\n');
}
