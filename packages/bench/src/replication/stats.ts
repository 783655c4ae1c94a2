/** Percentiles of a sample (nearest rank); NaN for an empty sample. */
export interface Distribution {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of `values` (which it sorts in place). */
export function distribution(values: number[]): Distribution {
  if (values.length === 0) return { count: 0, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.max(0, Math.ceil(q * values.length) - 1))] as number;
  return {
    count: values.length,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: values[values.length - 1] as number,
    mean: values.reduce((a, b) => a + b, 0) / values.length,
  };
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes of one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}
