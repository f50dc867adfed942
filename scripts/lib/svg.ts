/** A dependency-free SVG line chart (step lines), enough for "connections over time". */

export interface Series {
  readonly name: string;
  /** CSS colour. */
  readonly color: string;
  /** [x, y] points in data units, x ascending. */
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** A dashed horizontal line, e.g. max_connections. @default - none */
  readonly limit?: { readonly value: number; readonly label: string };
  /** @default 720 */
  readonly width?: number;
  /** @default 360 */
  readonly height?: number;
}

const MARGIN = { top: 40, right: 20, bottom: 50, left: 56 };

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!
  );
}

/** A "nice" axis maximum and tick step (1, 2 or 5 × 10^n) covering `max`. */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0)) {
    return { max: 1, step: 1 };
  }
  const rough = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough)!;
  return { max: Math.ceil(max / step) * step, step };
}

export function lineChart(series: readonly Series[], options: ChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 360;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const xs = series.flatMap((s) => s.points.map(([x]) => x));
  const ys = series.flatMap((s) => s.points.map(([, y]) => y));
  const xScale = niceScale(Math.max(0, ...xs));
  const yScale = niceScale(Math.max(0, options.limit?.value ?? 0, ...ys));
  const px = (x: number) => MARGIN.left + (x / xScale.max) * plotW;
  const py = (y: number) => MARGIN.top + plotH - (y / yScale.max) * plotH;
  const f = (n: number) => n.toFixed(1);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  for (let y = 0; y <= yScale.max + 1e-9; y += yScale.step) {
    out.push(
      `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${f(py(y))}" y2="${f(py(y))}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${f(py(y) + 4)}" text-anchor="end">${round(y)}</text>`
    );
  }
  for (let x = 0; x <= xScale.max + 1e-9; x += xScale.step) {
    out.push(
      `<text x="${f(px(x))}" y="${height - MARGIN.bottom + 16}" text-anchor="middle">${round(x)}</text>`
    );
  }
  out.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`
  );
  if (options.limit) {
    const y = f(py(options.limit.value));
    out.push(
      `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${y}" y2="${y}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${width - MARGIN.right - 4}" y="${Number(y) - 5}" text-anchor="end" fill="#c00">${escapeXml(options.limit.label)}</text>`
    );
  }
  series.forEach((s, i) => {
    if (s.points.length > 0) {
      // Step line: a connection count holds until the next sample.
      const d = s.points
        .map(([x, y], j) => (j === 0 ? `M${f(px(x))},${f(py(y))}` : `H${f(px(x))}V${f(py(y))}`))
        .join('');
      out.push(`<path d="${d}" fill="none" stroke="${escapeXml(s.color)}" stroke-width="2"/>`);
    }
    const ly = MARGIN.top + 8 + i * 16;
    out.push(
      `<rect x="${MARGIN.left + 10}" y="${ly - 8}" width="12" height="12" fill="${escapeXml(s.color)}"/>`,
      `<text x="${MARGIN.left + 28}" y="${ly + 2}">${escapeXml(s.name)}</text>`
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function round(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}
