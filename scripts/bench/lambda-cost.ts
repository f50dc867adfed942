/**
 * Lambda's on-demand prices for arm64 in us-east-1 (first 6 billion GB-seconds a month), from
 * https://aws.amazon.com/lambda/pricing/ as read on 2026-11-27. Other regions differ; the
 * ratios between memory sizes do not.
 */
export const ARM64_PRICE = {
  perGbSecond: 0.0000133334,
  perMillionRequests: 0.2,
  source: 'https://aws.amazon.com/lambda/pricing/ (arm64, us-east-1, read 2026-11-27)',
} as const;

/**
 * USD per million invocations of a function of `memoryMb` whose invocations take `durationsMs`
 * (Lambda bills each one rounded up to the next millisecond), requests included.
 */
export function costPerMillion(memoryMb: number, durationsMs: readonly number[]): number {
  if (durationsMs.length === 0) {
    return NaN;
  }
  const billedMs = durationsMs.reduce((sum, ms) => sum + Math.max(1, Math.ceil(ms)), 0);
  const gbSecondsPerInvocation = ((billedMs / durationsMs.length) * memoryMb) / 1024 / 1000;
  return 1e6 * gbSecondsPerInvocation * ARM64_PRICE.perGbSecond + ARM64_PRICE.perMillionRequests;
}
