/**
 * batch.combine, the combiner before a shuffle: pre-reduces each subtask's records per key in
 * a hash table, with the reduce function or with batch.aggregate's aggregations as partial
 * records (their shape: aggregations.ts). When the table's estimated size passes the memory
 * budget it emits everything it holds and starts again, so a key may leave more than once:
 * the final reduce or aggregate after the shuffle finishes the job. The rest leaves at the end
 * through drain.
 */
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { estimateHeapBytes } from '../../../../lib/batch/index.ts';
import type { BatchCombineVertex } from '../../../../lib/descriptor/types.ts';
import type { Collector, OperatorLogic, UserFn } from '../types.ts';
import { describe } from '../emit.ts';
import { type GroupAggregate, aggregator } from './aggregations.ts';
import { Drainer } from './drain.ts';
import type { BatchResources } from './grouping.ts';
import { canonicalOf } from './values.ts';

/** A Map entry's own cost besides its key text and value. */
const ENTRY_BYTES = 64;

interface Held { value: unknown; bytes: number }

export function batchCombineLogic(spec: BatchCombineVertex, fns: { fn?: UserFn; key: (record: unknown) => unknown }, resources: BatchResources, vertexName: string): OperatorLogic {
  const label = `batch.combine '${vertexName}'`;
  if (typeof fns.key !== 'function') throw new CloudflinkError('DESCRIPTOR_INVALID', `${label} needs a key, got ${describe(fns.key)}`);
  const hasFn = typeof fns.fn === 'function';
  if (hasFn === (spec.aggregations !== undefined)) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${label} needs either a reduce function or aggregations, not ${hasFn ? 'both' : 'neither'}`);
  }
  const combine = hasFn ? reducing(fns.fn!) : aggregating(spec.aggregations!, label);
  let table = new Map<string, Held>();
  let bytes = 0;

  const flush = (out: Collector): void => {
    const held = table;
    table = new Map();
    bytes = 0;
    for (const entry of held.values()) out.emit(combine.emit(entry.value));
  };
  const drainer = new Drainer(() => rest(table, combine.emit));

  return {
    process(record, out) {
      const canonical = canonicalOf(fns.key(record), label);
      const held = table.get(canonical);
      if (held === undefined) {
        const value = combine.start(record);
        const size = estimateHeapBytes(value, 0);
        table.set(canonical, { value, bytes: size });
        bytes += ENTRY_BYTES + 2 * canonical.length + size;
      } else {
        held.value = combine.add(held.value, record);
        if (combine.grows) {
          const size = estimateHeapBytes(held.value, 0);
          bytes += size - held.bytes;
          held.bytes = size;
        }
      }
      if (bytes > resources.memoryBytes) flush(out);
    },
    drain: (out, max) => drainer.drain(out, max),
    close() {
      drainer.close();
      table.clear();
    },
  };
}

interface Combine {
  start(record: unknown): unknown;
  add(held: unknown, record: unknown): unknown;
  emit(held: unknown): unknown;
  /** Whether a held value's size changes as records are added (then it is estimated again). */
  grows: boolean;
}

function reducing(fn: UserFn): Combine {
  return { start: (record) => record, add: (held, record) => fn(held, record), emit: (held) => held, grows: true };
}

function aggregating(aggregations: BatchCombineVertex['aggregations'] & object, label: string): Combine {
  const aggregate = aggregator(aggregations, label);
  return {
    start: (record) => aggregate.start(record),
    add(held, record) {
      aggregate.add(held as GroupAggregate, record);
      return held;
    },
    emit: (held) => aggregate.partial(held as GroupAggregate),
    // The first record and one state per aggregation: only a min or max of strings changes size, and by little.
    grows: false,
  };
}

function* rest(table: Map<string, Held>, emit: (held: unknown) => unknown): Generator<unknown> {
  for (const entry of table.values()) yield emit(entry.value);
}
