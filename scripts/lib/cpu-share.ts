import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Memory at which a Lambda function gets one full vCPU; CPU is allocated in proportion below it.
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
 */
export const FULL_VCPU_MB = 1769;

/** CFS period used for every share: 100 ms, the kernel default. */
export const PERIOD_US = 100_000;

/** CPU microseconds per 100 ms period that a function of `memoryMb` gets (1769 MB = one vCPU). */
export function quotaForMemory(memoryMb: number, periodUs = PERIOD_US): number {
  if (!(memoryMb >= 128 && memoryMb <= 10_240)) {
    throw new Error(`Lambda memory must be 128..10240 MB, got ${memoryMb}.`);
  }
  // The kernel refuses quotas under 1 ms.
  return Math.max(1000, Math.round((periodUs * memoryMb) / FULL_VCPU_MB));
}

export type CpuShareSupport =
  | { readonly supported: true; readonly version: 1 | 2; readonly parent: string }
  | { readonly supported: false; readonly reason: string };

/**
 * Whether this process may create CPU-limited cgroups: cgroup v1's `cpu` controller
 * (`cpu.cfs_quota_us`) or cgroup v2 with `cpu` delegated (`cpu.max`). Root on Linux, usually.
 * The answer's `reason` is one line, for the "skipped" message.
 */
export function probeCpuShares(root = '/sys/fs/cgroup'): CpuShareSupport {
  if (process.platform !== 'linux') {
    return { supported: false, reason: `cgroups are Linux-only (this is ${process.platform})` };
  }
  const v1 = path.join(root, 'cpu');
  if (existsSync(path.join(v1, 'cpu.cfs_quota_us'))) {
    return writable(v1, 1);
  }
  const controllers = path.join(root, 'cgroup.subtree_control');
  if (existsSync(controllers)) {
    if (!/\bcpu\b/.test(readFileSync(controllers, 'utf8'))) {
      return {
        supported: false,
        reason: `the cpu controller is not enabled in ${controllers} (echo +cpu > it as root)`,
      };
    }
    return writable(root, 2);
  }
  return { supported: false, reason: `no cgroup cpu controller under ${root}` };
}

function writable(parent: string, version: 1 | 2): CpuShareSupport {
  try {
    accessSync(parent, constants.W_OK);
    return { supported: true, version, parent };
  } catch {
    return {
      supported: false,
      reason: `${parent} is not writable (run as root to measure on a Lambda-sized CPU share)`,
    };
  }
}

let created = 0;

/**
 * A cgroup whose processes together get `memoryMb / 1769` of one CPU, enforced by the kernel's
 * CFS bandwidth control, as Lambda allocates CPU by memory size. Remove it with dispose() once
 * its processes have exited.
 */
export class CpuShare {
  private constructor(
    readonly memoryMb: number,
    readonly quotaUs: number,
    private readonly dir: string
  ) {}

  static create(support: CpuShareSupport, memoryMb: number): CpuShare {
    if (!support.supported) {
      throw new Error(`cannot limit CPU: ${support.reason}`);
    }
    const quotaUs = quotaForMemory(memoryMb);
    const dir = path.join(support.parent, `lambda-share-${process.pid}-${++created}`);
    mkdirSync(dir);
    if (support.version === 1) {
      writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
    } else {
      writeFileSync(path.join(dir, 'cpu.max'), `${quotaUs} ${PERIOD_US}`);
    }
    return new CpuShare(memoryMb, quotaUs, dir);
  }

  /** Fraction of one CPU the share allows, e.g. 0.145 for 256 MB. */
  get cpus(): number {
    return this.quotaUs / PERIOD_US;
  }

  /** Moves a running process (all its threads) into the share. */
  add(pid: number): void {
    writeFileSync(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** Removes the cgroup; the kernel refuses while a process is still in it, so this retries briefly. */
  async dispose(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        rmdirSync(this.dir);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          return;
        }
        if (code !== 'EBUSY' || attempt >= 50) {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }
}
