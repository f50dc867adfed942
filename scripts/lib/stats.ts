/** Small, dependency-free statistics for the demo, load test and benchmark. */

/**
 * The p-th percentile (0..100) by the nearest-rank method: the smallest value such that at
 * least p% of the samples are at or below it. Nearest-rank never invents a value that was not
 * measured, which keeps a p99 of 40 samples honest (it is the maximum).
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) {
    return NaN;
  }
  if (!(p >= 0 && p <= 100)) {
    throw new Error(`percentile must be between 0 and 100, got ${p}`);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export interface Summary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

export function summarize(samples: readonly number[]): Summary {
  const count = samples.length;
  return {
    count,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    min: count ? Math.min(...samples) : NaN,
    max: count ? Math.max(...samples) : NaN,
    mean: count ? samples.reduce((a, b) => a + b, 0) / count : NaN,
  };
}

/** `value / baseline`, or NaN when there is no meaningful baseline. */
export function ratio(value: number, baseline: number): number {
  return baseline > 0 && Number.isFinite(value) ? value / baseline : NaN;
}

/** Rounds to `digits` decimals, for JSON reports that a person reads. */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** "1.23×", "0.42×", or "n/a". */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×` : 'n/a';
}

/** Bytes for people, in binary units: "537 KiB", "1.02 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) {
    return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  }
  return bytes >= 1024 ? `${Math.round(bytes / 1024)} KiB` : `${bytes} B`;
}
