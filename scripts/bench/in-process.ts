/**
 * The baselines, in this process: a plain single-threaded loop and an RxJS pipeline, each
 * doing WordCount's work (read the file, split lines on ' ', one rolling count update per
 * word), and the same two for the tiny job whose round trip is the latency column.
 */
import { readFileSync } from 'node:fs';
import { from, groupBy, map, mergeMap, scan, toArray } from 'rxjs';

export interface CountRun {
  words: number;
  seconds: number;
  /** The final count of every word. */
  counts: Map<string, number>;
}

export function plainWordCount(path: string): CountRun {
  const started = performance.now();
  const counts = new Map<string, number>();
  let words = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    for (const word of line.split(' ')) {
      if (word.length === 0) continue;
      counts.set(word, (counts.get(word) ?? 0) + 1);
      words++;
    }
  }
  return { words, seconds: (performance.now() - started) / 1000, counts };
}

/**
 * Rolling: one (word, count) out per word in, as the engine's keyed sum emits; the
 * subscriber keeps the last. groupBy is the idiomatic keyed pipeline: one inner stream per word.
 */
export function rxjsGroupByWordCount(path: string): CountRun {
  const started = performance.now();
  const counts = new Map<string, number>();
  let words = 0;
  from(readFileSync(path, 'utf8').split('\n'))
    .pipe(
      mergeMap((line) => line.split(' ').filter((word) => word.length > 0)),
      groupBy((word) => word),
      mergeMap((group) => group.pipe(scan((count: number) => count + 1, 0), map((count) => [group.key, count] as const))),
    )
    .subscribe(([word, count]) => {
      counts.set(word, count);
      words++;
    });
  // from(array) is synchronous: the pipeline has completed here.
  return { words, seconds: (performance.now() - started) / 1000, counts };
}

/** The same rolling output with the keyed state held by hand in one scan: what groupBy costs, made visible. */
export function rxjsScanWordCount(path: string): CountRun {
  const started = performance.now();
  const counts = new Map<string, number>();
  let words = 0;
  const state = { counts: new Map<string, number>(), word: '', count: 0 };
  from(readFileSync(path, 'utf8').split('\n'))
    .pipe(
      mergeMap((line) => line.split(' ').filter((word) => word.length > 0)),
      scan((s: typeof state, word: string) => {
        s.count = (s.counts.get(word) ?? 0) + 1;
        s.counts.set(word, s.count);
        s.word = word;
        return s;
      }, state),
      map((s) => [s.word, s.count] as const),
    )
    .subscribe(([word, count]) => {
      counts.set(word, count);
      words++;
    });
  return { words, seconds: (performance.now() - started) / 1000, counts };
}

export const TINY_INPUT = Array.from({ length: 10 }, (_, i) => i + 1);
export const TINY_EXPECTED = TINY_INPUT.map((x) => x * 2);

/** The tiny job (10 records → map → collect) as a loop; milliseconds per run. */
export function plainTinyJob(runs: number): number[] {
  return timed(runs, () => {
    const out: number[] = [];
    for (const x of TINY_INPUT) out.push(x * 2);
    return out;
  });
}

export function rxjsTinyJob(runs: number): number[] {
  return timed(runs, () => {
    let out: number[] = [];
    from(TINY_INPUT).pipe(map((x) => x * 2), toArray()).subscribe((all) => { out = all; });
    return out;
  });
}

function timed(runs: number, job: () => number[]): number[] {
  return Array.from({ length: runs }, () => {
    const started = performance.now();
    const out = job();
    const ms = performance.now() - started;
    if (out.join() !== TINY_EXPECTED.join()) throw new Error(`the tiny job computed ${out.join()}, expected ${TINY_EXPECTED.join()}`);
    return ms;
  });
}
