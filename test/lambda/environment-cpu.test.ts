import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SimulatedEnvironment } from '../support/simulated-environment';

// The CPU the runtime stand-in reports (the bench's cold-path CPU columns): a handler that spins
// for a known CPU time shows at least that much, and an init that does shows it in initCpuMs.
// Spins until its user time has grown by `ms`, asking for it only every 100,000 turns, so
// that the asking (a system call) adds little system time.
const SPIN = `const spin = (ms) => {
  const end = process.cpuUsage().user + ms * 1000;
  for (let x = 0; process.cpuUsage().user < end; ) for (let i = 0; i < 100000; i++) x += i;
};
spin(20);
export const handler = async () => { spin(30); return 'spun'; };
`;

describe('the simulated environment reports CPU time', () => {
  let dir: string;
  let environment: SimulatedEnvironment | undefined;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'environment-cpu-'));
    writeFileSync(path.join(dir, 'index.mjs'), SPIN);
  });
  afterAll(async () => {
    await environment?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('of its init and of each invocation', async () => {
    environment = await SimulatedEnvironment.start(
      'spin',
      path.join(dir, 'index.mjs'),
      {},
      {
        quiet: true,
      }
    );
    expect(environment.initCpuMs).toBeGreaterThanOrEqual(20);
    const first = await environment.invokeOk(undefined);
    const second = await environment.invokeOk(undefined);
    for (const outcome of [first, second]) {
      expect(outcome.cpuMs).toBeGreaterThanOrEqual(30);
      // The invocation's own, not the process's so far (which would hold both spins and more).
      expect(outcome.cpuMs).toBeLessThan(60);
    }
  });
});
