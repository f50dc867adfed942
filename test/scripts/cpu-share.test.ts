import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  CpuShare,
  FULL_VCPU_MB,
  PERIOD_US,
  probeCpuShares,
  quotaForMemory,
} from '../../scripts/lib/cpu-share';
import { parseProcStatCpuMs, processCpuMs } from '../../scripts/lib/proc-cpu';
import { ARM64_PRICE, costPerMillion } from '../../scripts/bench/lambda-cost';

describe('Lambda-sized CPU shares', () => {
  test('the quota is memory / 1769 MB of one CPU per 100 ms period', () => {
    expect(quotaForMemory(FULL_VCPU_MB)).toBe(PERIOD_US);
    expect(quotaForMemory(256)).toBe(14_471); // 14.5 % of a CPU
    expect(quotaForMemory(128)).toBe(7_236);
    expect(quotaForMemory(3538)).toBe(2 * PERIOD_US); // two vCPUs
    expect(() => quotaForMemory(64)).toThrow('128..10240');
  });

  describe('with a fake cgroup file system', () => {
    let root: string;
    beforeEach(() => {
      root = mkdtempSync(path.join(tmpdir(), 'cgroup-'));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    test('cgroup v1: a directory under cpu/ with period and quota, processes added by pid', () => {
      mkdirSync(path.join(root, 'cpu'));
      writeFileSync(path.join(root, 'cpu', 'cpu.cfs_quota_us'), '-1');
      const support = probeCpuShares(root);
      expect(support).toMatchObject({ supported: true, version: 1 });
      const share = CpuShare.create(support, 256);
      const dir = readdirOnly(path.join(root, 'cpu'));
      expect(readFileSync(path.join(dir, 'cpu.cfs_quota_us'), 'utf8')).toBe('14471');
      expect(readFileSync(path.join(dir, 'cpu.cfs_period_us'), 'utf8')).toBe('100000');
      share.add(4242);
      expect(readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')).toBe('4242');
      expect(share.cpus).toBeCloseTo(0.1447, 3);
    });

    test('cgroup v2: cpu.max, once the cpu controller is delegated', () => {
      writeFileSync(path.join(root, 'cgroup.subtree_control'), 'memory pids');
      expect(probeCpuShares(root)).toEqual({
        supported: false,
        reason: expect.stringContaining('cpu controller is not enabled'),
      });
      writeFileSync(path.join(root, 'cgroup.subtree_control'), 'cpu memory pids');
      const support = probeCpuShares(root);
      expect(support).toMatchObject({ supported: true, version: 2 });
      CpuShare.create(support, 512);
      const dir = readdirOnly(root);
      expect(readFileSync(path.join(dir, 'cpu.max'), 'utf8')).toBe('28943 100000');
    });

    test('no cgroup at all is skipped with a one-line reason', () => {
      const support = probeCpuShares(root);
      expect(support.supported).toBe(false);
      if (!support.supported) {
        expect(support.reason).not.toContain('\n');
        expect(() => CpuShare.create(support, 256)).toThrow(support.reason);
      }
    });
  });

  test('on this machine a real share holds a process, or is skipped with a reason', async () => {
    const support = probeCpuShares();
    if (!support.supported) {
      expect(support.reason).toMatch(/\S/);
      return;
    }
    const share = CpuShare.create(support, 128);
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      stdio: 'ignore',
    });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      share.add(child.pid!);
      const cgroup = readFileSync(`/proc/${child.pid}/cgroup`, 'utf8');
      expect(cgroup).toMatch(/lambda-share-/);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      await share.dispose();
    }
  });
});

describe('CPU time from /proc', () => {
  test('utime + stime are fields 14 and 15, counted from the last parenthesis', () => {
    // a command name with spaces and parentheses, as a process may choose
    const fields = ['S', ...Array.from({ length: 10 }, () => '0'), '150', '50', '0', '0'];
    expect(parseProcStatCpuMs(`1234 (my (odd) name) ${fields.join(' ')}`)).toBe(2000);
    expect(() => parseProcStatCpuMs('garbage')).toThrow('/proc/<pid>/stat');
  });

  test('this process has used some CPU', () => {
    expect(processCpuMs(process.pid)).toBeGreaterThan(0);
  });
});

describe('cost per million invocations (arm64)', () => {
  test('GB-seconds billed per started millisecond, plus the request price', () => {
    // 1024 MB for 100 ms = 0.1 GB-s per invocation
    expect(costPerMillion(1024, [100, 100])).toBeCloseTo(
      1e5 * ARM64_PRICE.perGbSecond + ARM64_PRICE.perMillionRequests,
      6
    );
    // 0.2 ms is billed as 1 ms
    expect(costPerMillion(1024, [0.2])).toBeCloseTo(1e6 * 0.001 * ARM64_PRICE.perGbSecond + 0.2, 6);
    expect(costPerMillion(256, [])).toBeNaN();
  });
});

function readdirOnly(parent: string): string {
  const entries = readdirSync(parent, { withFileTypes: true }).filter(
    (e) => e.isDirectory() && e.name.startsWith('lambda-share-')
  );
  expect(entries).toHaveLength(1);
  return path.join(parent, entries[0].name);
}
