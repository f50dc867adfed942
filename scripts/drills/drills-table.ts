import { DrillKind, DrillResult } from '../../test/support/switchover-drill';
import { formatMarkdownTable } from '../lib/table';

/** reports/bench.json's `drills` section: what `npm run drills` measured, and how. */
export interface DrillsReport {
  readonly measuredAt: string;
  readonly machine: Record<string, string | number>;
  readonly writers: number;
  readonly readers: number;
  readonly beforeMs: number;
  readonly afterMs: number;
  readonly laggingMs: number;
  readonly promoteAfterMs: number;
  readonly results: readonly DrillResult[];
}

const MOVES: Record<DrillKind, string> = {
  switchover: 'blue/green switchover',
  failover: 'failover (primary killed)',
  'lagging-name': 'switchover, lagging name',
  'proxy-switchover': 'switchover behind RDS Proxy (stand-in)',
};

/** Failed invocations by error name, most frequent first: `DatabaseReadOnlyError` × 7, … */
function failuresByName(failures: Readonly<Record<string, number>>): string {
  const entries = Object.entries(failures).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? 'none' : entries.map(([n, c]) => `\`${n}\` × ${c}`).join(', ');
}

/**
 * The markdown between the `switchover-drills` markers of docs/operations.md, from the `drills`
 * section of reports/bench.json: nothing in it is typed by hand.
 */
export function drillsBlock(report: DrillsReport): string {
  const m = report.machine;
  return [
    `Measured ${report.measuredAt.slice(0, 10)} on ${m.cpus} × ${m.cpuModel}, Node.js ${m.node} ` +
      `(\`npm run drills -- --update-reports\` rewrites this block from \`reports/bench.json\`): ` +
      `${report.writers} writer and ${report.readers} reader environments of the bundled handlers ` +
      `invoking back to back, ${report.beforeMs / 1000} s before the move and ` +
      `${report.afterMs / 1000} s after it; the failover promotes the standby ` +
      `${report.promoteAfterMs} ms after the kill; the lagging name sends every other new ` +
      `connection to the old primary for ${report.laggingMs / 1000} s after the move. ` +
      '"Writes refused": from the first write that failed to the start of the next acknowledged ' +
      'one; "writes back": from the move to the start of the first acknowledged write after it.',
    '',
    formatMarkdownTable(
      [
        'move',
        'writes (acknowledged)',
        'reads',
        'failed invocations by name',
        'writes refused',
        'writes back after the move',
        'acknowledged writes lost',
        'stale reads',
      ],
      report.results.map((r) => [
        MOVES[r.kind],
        `${r.writes} (${r.acknowledgedWrites})`,
        r.reads,
        failuresByName(r.failures),
        `${r.writeOutageMs} ms`,
        r.writesBackMs === null ? 'never' : `${r.writesBackMs} ms`,
        r.lostWrites.length,
        r.staleReads.length,
      ]),
      { alignRight: [1, 2, 4, 5, 6, 7] }
    ),
  ].join('\n');
}
