/**
 * Flink's broadcast state pattern: `stream.connect(rules.broadcast()).process(fn1, fn2)`, as a
 * BroadcastProcessFunction (main stream not keyed) or a KeyedBroadcastProcessFunction (keyed).
 * Input 1 is the main stream, partitioned as usual; input 2 is broadcast, so every subtask gets
 * every one of its records. Broadcast state is a set of named maps held by each instance; it
 * stays the same on every subtask because only fn2, which every subtask runs on the same
 * records, may change it: fn1 gets a read-only view.
 */
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { KeyedStateBackend, KeyedStateStore } from '../../../lib/state/index.ts';
import { describe, emitAll, sideOutput } from './emit.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';

/** What a broadcast map may be keyed by: values that compare by value in a Map and survive msgpack. */
export type BroadcastKey = string | number | boolean | bigint;

export interface ReadOnlyBroadcastState<K extends BroadcastKey = BroadcastKey, V = unknown> {
  get(key: K): V | undefined;
  contains(key: K): boolean;
  entries(): [K, V][];
  keys(): K[];
  values(): V[];
  isEmpty(): boolean;
}

export interface BroadcastState<K extends BroadcastKey = BroadcastKey, V = unknown> extends ReadOnlyBroadcastState<K, V> {
  put(key: K, value: V): void;
  remove(key: K): void;
  clear(): void;
}

/** What fn1 gets with a record of the main input. */
export interface BroadcastProcessContext {
  /** Keyed only: the record's key. */
  key?: unknown;
  /** Keyed only: the keyed state, scoped to `key`. */
  state?: KeyedStateStore;
  /** The record's event time; undefined without event time. */
  timestamp: number | undefined;
  broadcastState<K extends BroadcastKey, V>(name: string): ReadOnlyBroadcastState<K, V>;
  output(tag: string, value: unknown): void;
}

/** What fn2 gets with a record of the broadcast input. */
export interface BroadcastSideContext {
  timestamp: number | undefined;
  broadcastState<K extends BroadcastKey, V>(name: string): BroadcastState<K, V>;
  output(tag: string, value: unknown): void;
  /** Keyed only: calls `fn` for every key of this subtask holding the keyed state `stateName`, with the state scoped to that key. */
  applyToKeyedState?(stateName: string, fn: (key: unknown, state: KeyedStateStore) => void): void;
}

/** The operator state of a checkpoint: each non-empty broadcast map by name, as [key, value] entries. */
export interface BroadcastSnapshot {
  broadcast: [string, [BroadcastKey, unknown][]][];
}

/** What a name never written reads as. */
const NONE: ReadonlyMap<BroadcastKey, unknown> = new Map();

export function broadcastProcessLogic(
  fn1: UserFn, fn2: UserFn, keyOf: ((record: unknown) => unknown) | undefined, backend: KeyedStateBackend | undefined, vertexName: string,
): OperatorLogic {
  if ((keyOf === undefined) !== (backend === undefined)) {
    throw new CloudflinkError('INTERNAL', `broadcast process '${vertexName}' needs both a key selector and a keyed state backend, or neither`);
  }
  const maps = new Map<string, Map<BroadcastKey, unknown>>();
  const views = new Map<string, { writable: BroadcastState; readOnly: ReadOnlyBroadcastState }>();

  const checkKey = (name: string, key: unknown): BroadcastKey => {
    const type = typeof key;
    if (type === 'string' || type === 'number' || type === 'boolean' || type === 'bigint') return key as BroadcastKey;
    throw new CloudflinkError('UDF_FAILED',
      `broadcast state '${name}' of '${vertexName}' takes strings, numbers, booleans or bigints as keys, not ${describe(key)}: ` +
      'an object or array key would be compared by identity, so build a string key from it');
  };

  const refuse = (name: string, method: string) => (): never => {
    throw new CloudflinkError('UDF_FAILED',
      `broadcast state '${name}' of '${vertexName}' is read-only in fn1 (the main input), as in Flink: ${method}() is allowed only in fn2 ` +
      '(the broadcast input), so that every subtask keeps the same copy');
  };

  /** The views of the map `name`, made on first use; they find the map by name, so a restore that replaces it is seen. */
  const viewsOf = (name: unknown): { writable: BroadcastState; readOnly: ReadOnlyBroadcastState } => {
    if (typeof name !== 'string' || name === '') {
      throw new CloudflinkError('UDF_FAILED', `ctx.broadcastState(name) needs a non-empty string name, got ${describe(name)}`);
    }
    const known = views.get(name);
    if (known) return known;
    // Made on the first write, not read: fn1 reads in an order of its own on each subtask, and
    // the order of the names in a snapshot would then differ between subtasks.
    const read = (): ReadonlyMap<BroadcastKey, unknown> => maps.get(name) ?? NONE;
    const write = (): Map<BroadcastKey, unknown> => {
      let found = maps.get(name);
      if (found === undefined) maps.set(name, (found = new Map()));
      return found;
    };
    const readOnly: ReadOnlyBroadcastState = {
      get: (key) => read().get(checkKey(name, key)),
      contains: (key) => read().has(checkKey(name, key)),
      entries: () => Array.from(read()),
      keys: () => Array.from(read().keys()),
      values: () => Array.from(read().values()),
      isEmpty: () => read().size === 0,
    };
    const writable: BroadcastState = {
      ...readOnly,
      put: (key, value) => { write().set(checkKey(name, key), value); },
      remove: (key) => { const checked = checkKey(name, key); maps.get(name)?.delete(checked); },
      clear: () => maps.get(name)?.clear(),
    };
    // The writers exist on the read-only view too, to fail with a reason rather than "not a function".
    const created = {
      writable: Object.freeze(writable),
      readOnly: Object.freeze({ ...readOnly, put: refuse(name, 'put'), remove: refuse(name, 'remove'), clear: refuse(name, 'clear') }),
    };
    views.set(name, created);
    return created;
  };

  const output = (out: Collector, timestamp: number | undefined) => (tag: string, value: unknown): void => sideOutput(out, tag, value, timestamp);

  const applyToKeyedState = (stateName: string, fn: (key: unknown, state: KeyedStateStore) => void): void => {
    if (typeof stateName !== 'string' || stateName === '') {
      throw new CloudflinkError('UDF_FAILED', `ctx.applyToKeyedState(stateName, fn) needs a non-empty string state name, got ${describe(stateName)}`);
    }
    if (typeof fn !== 'function') {
      throw new CloudflinkError('UDF_FAILED', `ctx.applyToKeyedState(stateName, fn) needs a function (key, state) => void, got ${describe(fn)}`);
    }
    // A copy of the keys: fn may clear the state of the key it is given.
    for (const key of backend!.keys(stateName)) {
      backend!.setCurrentKey(key);
      fn(key, backend!.store);
    }
  };


  const processMain = (record: unknown, out: Collector, timestamp: number | undefined): void => {
    const ctx: BroadcastProcessContext = {
      timestamp,
      broadcastState: (name) => viewsOf(name).readOnly as ReadOnlyBroadcastState<never, never>,
      output: output(out, timestamp),
    };
    if (keyOf !== undefined) {
      const key = keyOf(record);
      backend!.setCurrentKey(key);
      ctx.key = key;
      ctx.state = backend!.store;
    }
    emitAll(fn1(record, ctx), out, `the main-input function (fn1) of broadcast process '${vertexName}'`, timestamp);
  };

  const processBroadcast = (record: unknown, out: Collector, timestamp: number | undefined): void => {
    const ctx: BroadcastSideContext = {
      timestamp,
      broadcastState: (name) => viewsOf(name).writable as BroadcastState<never, never>,
      output: output(out, timestamp),
      ...(backend === undefined ? {} : { applyToKeyedState }),
    };
    emitAll(fn2(record, ctx), out, `the broadcast-input function (fn2) of broadcast process '${vertexName}'`, timestamp);
  };

  return {
    process(record, out, input = 1, timestamp) {
      if (input === 2) processBroadcast(record, out, timestamp);
      else processMain(record, out, timestamp);
    },
    snapshotState(): BroadcastSnapshot {
      const broadcast: BroadcastSnapshot['broadcast'] = [];
      for (const [name, map] of maps) if (map.size > 0) broadcast.push([name, Array.from(map)]);
      return { broadcast };
    },
    /**
     * Every old subtask saw the same broadcast records up to the barrier, so their copies are
     * equal and any one will do, whatever the old and new parallelism. The first non-empty one,
     * because a subtask may have left no snapshot. Taking the same copy on every new subtask
     * also keeps them equal where copies could differ (at-least-once checkpoints do not align
     * barriers, so a copy may hold broadcast records after the barrier; these are replayed).
     */
    restoreState(states: unknown[]) {
      const snapshots = states.map((state, subtask) => asSnapshot(state, subtask, vertexName));
      const chosen = snapshots.find((snapshot) => snapshot !== undefined && snapshot.broadcast.length > 0);
      // Views find their map by name, so those given out before the restore see what it brings;
      // the names come in the order of the copy, as on every other restored subtask.
      maps.clear();
      for (const [name, entries] of chosen?.broadcast ?? []) maps.set(name, new Map(entries));
    },
  };
}

function asSnapshot(state: unknown, subtask: number, vertexName: string): BroadcastSnapshot | undefined {
  if (state === undefined || state === null) return undefined;
  const broadcast = (state as Partial<BroadcastSnapshot>).broadcast;
  const valid = Array.isArray(broadcast) && broadcast.every((entry) =>
    Array.isArray(entry) && typeof entry[0] === 'string' && Array.isArray(entry[1]) && entry[1].every((pair) => Array.isArray(pair) && pair.length === 2));
  if (!valid) {
    throw new CloudflinkError('INTERNAL', `the operator state of subtask ${subtask} of broadcast process '${vertexName}' is not a broadcast state snapshot: ${describe(state)}`);
  }
  return state as BroadcastSnapshot;
}
