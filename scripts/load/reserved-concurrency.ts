/**
 * A function's reserved concurrency as Lambda enforces it: at most `limit` invocations run at
 * once, whatever the number of environments. Lambda throttles the invocation over the limit
 * before any environment sees it (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html);
 * here its caller waits for a free slot, as a caller that retries the throttle would, so every
 * invocation that runs is one Lambda would have run.
 */
export class ReservedConcurrency {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  /** @param limit whole, at least 1; Infinity for a run without reserved concurrency */
  constructor(readonly limit: number) {
    if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) {
      throw new Error(`reserved concurrency must be a whole number of at least 1, got ${limit}`);
    }
  }

  /** Runs `invocation` once a slot is free, and frees the slot (to the next waiter) after it. */
  async run<T>(invocation: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) {
      this.running++;
    } else {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await invocation();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
