/**
 * How long a test waits for something the server or a child process reaches asynchronously
 * before calling it a hang. Generous on purpose: on a loaded 2-core machine a condition that
 * takes 50 ms when idle can take seconds, and a test must fail because the code is wrong, never
 * because the machine is busy. Only a wait whose bound is itself under test passes a smaller one.
 */
export const HANG_MS = 60_000;

/**
 * Reads, then reads again every `everyMs`, until `done` holds or `withinMs` has passed; returns
 * the last value read (the caller asserts on it). For conditions the server reaches
 * asynchronously (a QUIT being processed, a lock wait beginning).
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { withinMs = HANG_MS, everyMs = 10 }: { withinMs?: number; everyMs?: number } = {}
): Promise<T> {
  const deadline = Date.now() + withinMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    value = await read();
  }
  return value;
}

/**
 * Reads a number every `everyMs` until stopped and keeps the highest (e.g. server sessions
 * during a run); a failed read is skipped, not worth failing a run for.
 */
export class PeakSampler {
  peak = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(read: () => Promise<number>, everyMs: number) {
    this.loop = (async () => {
      while (this.running) {
        this.peak = Math.max(this.peak, await read().catch(() => 0));
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
