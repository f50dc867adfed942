import { cpuParts, firstInvocationParts, readmeBlock } from '../../scripts/bench/readme-table';
import type { CpuResult } from '../../scripts/bench/cpu';

const warm: CpuResult = {
  warmInvocations: 1000,
  baseline: 'module-scope',
  rows: [
    {
      label: 'module-scope',
      clientCpuMs: 0.25,
      clientRatio: 1,
      serverCpuMs: 0.1,
      serverRatio: 1,
    },
    {
      label: 'per invocation',
      clientCpuMs: 1.5,
      clientRatio: 6,
      serverCpuMs: NaN,
      serverRatio: NaN,
    },
  ],
};

describe('the CPU tables of the README block', () => {
  test('without a writable cgroup the share tables are replaced by the reason', () => {
    const text = cpuParts({ ...warm, skipped: '/sys/fs/cgroup/cpu is not writable' }).join('\n');
    expect(text).toContain('| per invocation | 1.50 ms | 6.00× | n/a | n/a |');
    expect(text).toContain('skipped: /sys/fs/cgroup/cpu is not writable');
    expect(text).not.toContain('Memory size');
  });

  test('with shares: memory sizes with cost, the cold path against its baseline, the TLS context', () => {
    const block = readmeBlock({
      cpu: {
        ...warm,
        memory: {
          initOn: 'full vCPU',
          coldEnvironments: 3,
          warmInvocations: 40,
          price: 'https://aws.amazon.com/lambda/pricing/',
          rows: [
            {
              memoryMb: 256,
              cpus: 0.145,
              initMs: 350,
              firstInvocationMs: 200,
              warmP50Ms: 4.5,
              warmP90Ms: 83,
              costPerMillionUsd: 0.275,
            },
          ],
        },
        coldPath: {
          memoryMb: 256,
          runs: 5,
          secretsEndpoint: 'HTTPS',
          baseline: 'conventional',
          rows: [
            {
              label: 'conventional',
              initOn: 'share',
              initMs: 650,
              firstInvocationMs: 400,
              coldMs: 1050,
              ratio: 1,
            },
            {
              label: 'shipped',
              initOn: 'full vCPU',
              initMs: 345,
              firstInvocationMs: 200,
              coldMs: 545,
              ratio: 0.52,
            },
          ],
          tlsContext: [
            { trust: 'whole bundle', certificates: 120, cpuMs: 9.5, wallMs: 60 },
            { trust: 'one root', certificates: 1, cpuMs: 0.4, wallMs: 1 },
          ],
        },
      },
    });
    expect(block).toContain('| 256 MB | 14.5 % | 350 ms | 200 ms | 4.50 ms | 83 ms | $0.275 |');
    expect(block).toContain('| shipped | full vCPU | 345 ms | 200 ms | 545 ms | 0.52× |');
    expect(block).toContain('init runs on a full vCPU');
    expect(block).toContain('over HTTPS');
    expect(block).toContain(
      'whole bundle, 120 certificates: 9.50 ms CPU; one root, 1 certificate:'
    );
    expect(block).toContain('https://aws.amazon.com/lambda/pricing/');
  });

  test('first invocations: the cold path in wall and CPU time against the same build not prepared', () => {
    const row = {
      memoryMb: 256,
      handler: 'writer' as const,
      initOn: 'share' as const,
      initMs: 1700,
      firstInvocationMs: 95,
      warmMs: 4.7,
      firstVsWarm: 20.2,
      coldMs: 1791,
      coldVsUnprepared: 1.06,
    };
    const [, table] = firstInvocationParts({
      measuredAt: '2026-12-07T12:00:00.000Z',
      runs: 3,
      warmInvocations: 20,
      rows: [
        { ...row, prepared: true, coldCpuMs: 111.5, coldCpuVsUnprepared: 1.026 },
        { ...row, prepared: false }, // a report from before CPU was measured
      ],
    });
    expect(table).toContain(
      '| 256 MB | writer | share | prepared | 1700 ms | 95 ms | 4.7 ms | 20.2× | 1791 ms | 1.06× | 112 ms | 1.03× |'
    );
    expect(table).toContain(
      '| not prepared | 1700 ms | 95 ms | 4.7 ms | 20.2× | 1791 ms | 1.06× | – | – |'
    );
  });

  test('first invocations against another revision: its rows, and every row compared with it', () => {
    const row = {
      memoryMb: 256,
      handler: 'reader' as const,
      initOn: 'share' as const,
      initMs: 600,
      firstInvocationMs: 5,
      warmMs: 2,
      firstVsWarm: 2.5,
      coldMs: 605,
      coldVsUnprepared: 1,
      coldCpuMs: 100,
      coldCpuVsUnprepared: 1,
    };
    const [text, table] = firstInvocationParts({
      measuredAt: '2026-12-07T12:00:00.000Z',
      runs: 5,
      warmInvocations: 20,
      against: { revision: 'v1', commit: 'abc1234' },
      rows: [
        { ...row, prepared: true, coldVsRevision: 0.95, coldCpuVsRevision: 0.951 },
        { ...row, prepared: false, revision: 'v1', coldVsRevision: 1, coldCpuVsRevision: 1 },
      ],
    });
    expect(text).toContain(
      '_as at v1_: the writer and reader of v1 (commit abc1234) as that revision'
    );
    expect(table).toContain('| CPU vs not prepared | vs v1 | CPU vs v1 |');
    expect(table).toContain('| 256 MB | reader | share | prepared | 600 ms |');
    expect(table).toMatch(/\| prepared \|.* 0\.95× \| 0\.95× \|$/m);
    expect(table).toMatch(/\| as at v1 \|.* 1\.00× \| 1\.00× \|$/m);
  });
});
