/** A handful of repeated measurements, told as their median and how far they spread. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** (max − min) ÷ median: 0.1 means the runs spread over 10 % of the median. */
  spread: number;
  values: number[];
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spreadOf(values: number[]): Spread {
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: m, min, max, spread: (max - min) / m, values };
}
