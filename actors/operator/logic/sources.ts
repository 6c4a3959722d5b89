import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { nexmarkEventGenerator, type NexmarkConfig } from '../../../lib/nexmark/index.ts';
import { restoreSplits, type SplitPositions } from '../../../lib/state/index.ts';
import { TimerHeap } from './timer-heap.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';

/**
 * Sources are cut into `splitCount` splits (as many as key groups) and a subtask reads the
 * splits of its range, one after another. A split's position is its operator state, so a
 * restored source resumes where the checkpoint saw it, at any parallelism.
 */
export interface SplitSource {
  /** The splits this subtask owns, ascending. */
  splits: number[];
  splitCount: number;
}

/**
 * Split s of a sequence holds the positions s, s + S, s + 2S, … A subtask always takes the
 * lowest next position among its splits, so it emits its share of the sequence in ascending
 * order, also after a restore at another parallelism brought it splits that had progressed
 * unevenly: event-time sources stay in order (as per-split watermarks would keep them).
 */
function sequenceSource(length: number, at: (index: number) => unknown, { splits, splitCount }: SplitSource, ratePerSecond?: number): OperatorLogic {
  let positions: SplitPositions = Object.fromEntries(splits.map((s) => [s, s]));
  // The splits not yet done, by their next position (`time` in the heap's terms).
  const next = new TimerHeap<{ time: number; split: number }>();
  const start = (): void => {
    next.clear();
    for (const split of splits) if (positions[split]! < length) next.add({ time: positions[split]!, split });
  };
  start();
  const pace = ratePerSecond === undefined ? undefined : new Pace(ratePerSecond);
  return {
    produce(out: Collector, limit: number): boolean | number {
      const max = pace ? pace.allowance(limit) : limit;
      if (pace && max === 0) return pace.waitMs;
      let emitted = 0;
      while (emitted < max && next.size > 0) {
        const { time: position, split } = next.take()!;
        positions[split] = position + splitCount;
        if (position + splitCount < length) next.add({ time: position + splitCount, split });
        out.emit(at(position));
        emitted++;
      }
      pace?.spent(emitted);
      return next.size === 0;
    },
    snapshotState: () => ({ ...positions }),
    restoreState(states: unknown[]) {
      positions = { ...Object.fromEntries(splits.map((s) => [s, s])), ...restoreSplits(states as SplitPositions[], splits) };
      start();
    },
  };
}

const MAX_CATCH_UP_SECONDS = 0.01;

/** Keeps a source at a steady rate: how many records it may emit now, and how long to wait when none. */
class Pace {
  private readonly startedAt = performance.now();
  private emitted = 0;

  constructor(private readonly perSecond: number) {}

  get waitMs(): number {
    return Math.max(1, Math.ceil(1000 / this.perSecond));
  }

  allowance(limit: number): number {
    let due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.perSecond) - this.emitted;
    // After a stall (a busy process, backpressure) the rate is not made up in a burst: what
    // is owed beyond a few milliseconds' worth is forgiven, as a rate limiter does.
    const backlog = Math.max(limit, Math.ceil(this.perSecond * MAX_CATCH_UP_SECONDS));
    if (due > backlog) {
      this.emitted += due - backlog;
      due = backlog;
    }
    return Math.max(0, Math.min(limit, due));
  }

  spent(records: number): void {
    this.emitted += records;
  }
}

export function elementsSource(elements: unknown[], source: SplitSource): OperatorLogic {
  return sequenceSource(elements.length, (i) => elements[i], source);
}

/** Emits fn(index) (or the index) for index in [0, count); deterministic, so a restore replays it exactly. */
export function generatorSource(count: number, fn: UserFn | undefined, source: SplitSource, ratePerSecond?: number): OperatorLogic {
  return sequenceSource(count, fn ? (i) => fn(i) : (i) => i, source, ratePerSecond);
}

/** The Nexmark generator's event for each event number in [0, events). */
export function nexmarkSource(events: number, config: NexmarkConfig | undefined, source: SplitSource, ratePerSecond?: number): OperatorLogic {
  return sequenceSource(events, nexmarkEventGenerator(config), source, ratePerSecond);
}

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;
/** A split's position before it was started: its first line is found by the boundary rule. */
const NOT_STARTED = -1;

/**
 * Lines of a text file. Split s is the byte range [s·size/S, (s+1)·size/S): a line belongs to
 * the split where it starts, so a split that starts mid-line skips to the next line. A split's
 * position is the byte offset of its next line.
 */
export function textFileSource(path: string, { splits, splitCount }: SplitSource): OperatorLogic {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new CloudflinkError('TASK_FAILED', `cannot read the input file ${path}: ${(error as Error).message}`, { cause: error });
  }
  const size = fstatSync(fd).size;
  const rangeOf = (split: number): [number, number] => [Math.floor((size * split) / splitCount), Math.floor((size * (split + 1)) / splitCount)];
  let positions: SplitPositions = Object.fromEntries(splits.map((s) => [s, NOT_STARTED]));
  let cursor = 0;
  let reader: SplitReader | undefined;
  let closed = false;

  const close = (): void => {
    if (!closed) closeSync(fd);
    closed = true;
  };

  return {
    produce(out: Collector, max: number): boolean {
      let emitted = 0;
      while (emitted < max && cursor < splits.length) {
        const split = splits[cursor]!;
        reader ??= new SplitReader(fd, ...rangeOf(split), positions[split]!);
        const line = reader.next();
        positions[split] = reader.position;
        if (line === undefined) {
          reader = undefined;
          cursor++;
          continue;
        }
        out.emit(line);
        emitted++;
      }
      if (cursor >= splits.length) close();
      return cursor >= splits.length;
    },
    snapshotState: () => ({ ...positions }),
    restoreState(states: unknown[]) {
      positions = { ...Object.fromEntries(splits.map((s) => [s, NOT_STARTED])), ...restoreSplits(states as SplitPositions[], splits) };
      cursor = 0;
      reader = undefined;
    },
    close,
  };
}

/** Reads the lines of one split, from its start or from a checkpointed position. */
class SplitReader {
  /** File offset of `pending[0]`: after a line is taken, the offset of the next line. */
  position: number;
  private pending = Buffer.alloc(0);
  private skipFirst: boolean;
  private eof = false;
  private readonly chunk = Buffer.allocUnsafe(CHUNK);

  constructor(private readonly fd: number, start: number, private readonly end: number, resumeAt: number) {
    const fresh = resumeAt === NOT_STARTED;
    this.position = fresh ? Math.max(0, start - 1) : resumeAt;
    this.skipFirst = fresh && start !== 0;
  }

  next(): string | undefined {
    for (;;) {
      if (this.position >= this.end && !this.skipFirst) return undefined;
      if (this.eof && this.pending.length === 0) {
        this.position = Math.max(this.position, this.end);
        return undefined;
      }
      const newline = this.pending.indexOf(NEWLINE);
      if (newline < 0 && !this.eof) {
        this.fill();
        continue;
      }
      const lineEnd = newline < 0 ? this.pending.length : newline;
      const consumed = newline < 0 ? this.pending.length : newline + 1;
      let line = this.pending.toString('utf8', 0, lineEnd);
      this.position += consumed;
      this.pending = this.pending.subarray(consumed);
      if (this.skipFirst) {
        this.skipFirst = false;
        continue;
      }
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (newline >= 0 || line.length > 0) return line;
    }
  }

  private fill(): void {
    const read = readSync(this.fd, this.chunk, 0, CHUNK, this.position + this.pending.length);
    if (read === 0) this.eof = true;
    else this.pending = this.pending.length === 0 ? Buffer.from(this.chunk.subarray(0, read)) : Buffer.concat([this.pending, this.chunk.subarray(0, read)]);
  }
}
