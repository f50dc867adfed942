import { formatBytes, formatRatio, percentile, ratio, summarize } from '../../scripts/lib/stats';
import { formatMarkdownTable, formatTable } from '../../scripts/lib/table';

describe('percentiles (nearest rank)', () => {
  test('p50 and p99 are measured values, never interpolated', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1).reverse();
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile(samples, 100)).toBe(100);
    expect(percentile([7, 3, 5], 50)).toBe(5);
  });

  test('a p99 of few samples is the maximum', () => {
    expect(percentile([1, 2, 3, 40], 99)).toBe(40);
  });

  test('no samples give NaN; a percentile outside 0..100 is an error', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow('between 0 and 100');
  });

  test('summarize gives count, p50, p99, min, max and mean', () => {
    expect(summarize([4, 1, 3, 2])).toEqual({
      count: 4,
      p50: 2,
      p99: 4,
      min: 1,
      max: 4,
      mean: 2.5,
    });
  });

  test('ratios against a missing baseline are n/a, not Infinity', () => {
    expect(ratio(10, 4)).toBe(2.5);
    expect(ratio(10, 0)).toBeNaN();
    expect(formatRatio(ratio(10, 0))).toBe('n/a');
    expect(formatRatio(4.8123)).toBe('4.81×');
    expect(formatRatio(12.34)).toBe('12.3×');
  });

  test('units read naturally', () => {
    expect(formatBytes(550_316)).toBe('537 KiB');
    expect(formatBytes(1_430_612)).toBe('1.36 MiB');
    expect(formatBytes(12)).toBe('12 B');
  });
});

describe('tables', () => {
  test('a text table aligns numbers right and labels left, with a rule under the header', () => {
    const text = formatTable(
      ['', 'anti', 'shipped'],
      [
        ['stale reads', '12 of 12', '0 of 12'],
        ['peak', 6, 1],
      ]
    );
    expect(text.split('\n')).toEqual([
      '                 anti  shipped',
      '───────────  ────────  ───────',
      'stale reads  12 of 12  0 of 12',
      'peak                6        1',
    ]);
  });

  test('a markdown table escapes pipes and marks numeric columns right-aligned', () => {
    expect(formatMarkdownTable(['a', 'b'], [['x|y', 1]])).toBe(
      '| a | b |\n|:---|---:|\n| x\\|y | 1 |'
    );
  });

  test('a row with the wrong number of cells is an error, not a shifted table', () => {
    expect(() => formatTable(['a', 'b'], [['only one']])).toThrow(
      'row 0 has 1 cells, the header has 2'
    );
  });
});
