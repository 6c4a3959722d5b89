/**
 * A stream sorted by event time, as Flink SQL's ORDER BY rowtime on a stream: records wait in
 * a buffer until the watermark passes their timestamp, then leave in (timestamp, arrival)
 * order. A record at or behind the watermark is late: to the late side output, if one is
 * named, else dropped.
 *
 * Operator state (not keyed): the buffer, as [timestamp, seq, record] entries. On restore a
 * subtask takes the snapshots j ≡ subtask (mod parallelism), so a rescale neither loses nor
 * duplicates a buffered record.
 */
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { Collector, OperatorLogic } from './types.ts';

/** A buffered record: its event time, its arrival sequence, and itself. */
export type SortEntry = [timestamp: number, seq: number, record: unknown];

export interface EventTimeSortOptions {
  lateTag?: string;
  subtask: number;
  parallelism: number;
}

export function eventTimeSortLogic(options: EventTimeSortOptions, vertexName: string): OperatorLogic {
  const { lateTag, subtask, parallelism } = options;
  let buffer = EntryHeap.empty();
  let watermark = Number.NEGATIVE_INFINITY;
  let nextSeq = 0;

  return {
    process(record, out: Collector, _input, timestamp) {
      if (timestamp === undefined) {
        throw new CloudflinkError('UDF_FAILED',
          `sort '${vertexName}' got a record without a timestamp: it sorts by event time, so give its source event time (assignTimestampsAndWatermarks, or "watermarks" in the descriptor)`);
      }
      if (timestamp <= watermark) {
        if (lateTag !== undefined) out.emitTo?.(lateTag, record, timestamp);
        return;
      }
      buffer.push([timestamp, nextSeq++, record]);
    },

    onWatermark(next, out: Collector) {
      watermark = next;
      while (buffer.size > 0 && buffer.peek()![0] <= next) {
        const [timestamp, , record] = buffer.pop()!;
        out.emit(record, timestamp);
      }
    },

    snapshotState(): SortEntry[] {
      // Entries are never changed once made; only the heap's array is.
      return buffer.entries();
    },

    restoreState(states: unknown[]) {
      const taken: [SortEntry, number][] = [];
      states.forEach((state, j) => {
        if (j % parallelism !== subtask || state === undefined || state === null) return;
        if (!Array.isArray(state)) throw new CloudflinkError('INTERNAL', `sort '${vertexName}': the operator state of subtask ${j} is not a list of buffered records`);
        for (const entry of state as SortEntry[]) taken.push([entry, j]);
      });
      // Sequences of different subtasks are not comparable: order once, then number afresh.
      taken.sort(([a, ja], [b, jb]) => a[0] - b[0] || a[1] - b[1] || ja - jb);
      buffer = EntryHeap.fromSorted(taken.map(([[timestamp, , record]], i): SortEntry => [timestamp, i, record]));
      nextSeq = taken.length;
      // The instance tells the watermark again once its inputs have one.
      watermark = Number.NEGATIVE_INFINITY;
    },
  };
}

const before = (a: SortEntry, b: SortEntry): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/** A binary min-heap of entries by (timestamp, seq): O(log n) a record, not a sort a watermark. */
class EntryHeap {
  private constructor(private readonly heap: SortEntry[]) {}

  static empty(): EntryHeap {
    return new EntryHeap([]);
  }

  static fromSorted(sorted: SortEntry[]): EntryHeap {
    // An ascending array already is a heap.
    return new EntryHeap(sorted);
  }

  get size(): number {
    return this.heap.length;
  }

  entries(): SortEntry[] {
    return this.heap.slice();
  }

  peek(): SortEntry | undefined {
    return this.heap[0];
  }

  push(entry: SortEntry): void {
    const heap = this.heap;
    heap.push(entry);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  pop(): SortEntry | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      for (let i = 0; ;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < heap.length && before(heap[left]!, heap[least]!)) least = left;
        if (right < heap.length && before(heap[right]!, heap[least]!)) least = right;
        if (least === i) break;
        [heap[least], heap[i]] = [heap[i]!, heap[least]!];
        i = least;
      }
    }
    return top;
  }
}
