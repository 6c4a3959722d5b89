/** For specs of windows: assigners, and the windows a timestamp belongs to by definition. */
import type { FixedWindowAssigner } from '../../lib/descriptor/types.ts';

export const tumbling = (sizeMs: number, offsetMs?: number): FixedWindowAssigner =>
  ({ type: 'tumbling', sizeMs, ...(offsetMs === undefined ? {} : { offsetMs }) });

export const sliding = (sizeMs: number, slideMs: number, offsetMs?: number): FixedWindowAssigner =>
  ({ type: 'sliding', sizeMs, slideMs, ...(offsetMs === undefined ? {} : { offsetMs }) });

/** The definition, by brute force: every start s ≡ offset (mod slide) with s ≤ t < s + size, latest first. */
export function startsByBruteForce(assigner: FixedWindowAssigner, t: number): number[] {
  const slide = assigner.type === 'tumbling' ? assigner.sizeMs : assigner.slideMs;
  const offset = assigner.offsetMs ?? 0;
  const starts: number[] = [];
  for (let s = t; s > t - assigner.sizeMs; s--) if ((((s - offset) % slide) + slide) % slide === 0) starts.push(s);
  return starts;
}
