import { readFileSync } from 'node:fs';

/** Linux reports utime/stime in clock ticks of USER_HZ, which is 100 on every mainstream kernel. */
const TICKS_PER_SECOND = 100;

/**
 * User + system CPU time in milliseconds from the text of /proc/<pid>/stat. The command name
 * (field 2) is in parentheses and may itself contain spaces or parentheses, so fields are
 * counted from the last `)`: utime and stime are fields 14 and 15 (proc(5)). They include every
 * thread of the process (mysqld's connection threads, node's libuv and GC threads).
 */
export function parseProcStatCpuMs(stat: string): number {
  const end = stat.lastIndexOf(')');
  if (end < 0) {
    throw new Error(`not a /proc/<pid>/stat line: "${stat.slice(0, 60)}"`);
  }
  const fields = stat
    .slice(end + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`no utime/stime in /proc/<pid>/stat: "${stat.slice(0, 60)}"`);
  }
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/** CPU time used so far by process `pid` (all its threads), in ms; 10 ms resolution. */
export function processCpuMs(pid: number): number {
  return parseProcStatCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}
