/**
 * Keyed state, as in Flink: every state is scoped to the key of the record being processed,
 * and lives in the key group of that key, so that it can move between subtasks by key group.
 */

export interface ValueState<T> {
  value(): T | undefined;
  update(value: T): void;
  clear(): void;
}

export interface ListState<T> {
  get(): T[];
  add(value: T): void;
  update(values: T[]): void;
  clear(): void;
}

export interface MapState<K, V> {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  remove(key: K): void;
  contains(key: K): boolean;
  entries(): [K, V][];
  keys(): K[];
  values(): V[];
  isEmpty(): boolean;
  clear(): void;
}

export interface ReducingState<T> {
  get(): T | undefined;
  add(value: T): void;
  clear(): void;
}

/** What a keyed user function sees: the states of the current key, by name. */
export interface KeyedStateStore {
  value<T>(name: string): ValueState<T>;
  list<T>(name: string): ListState<T>;
  map<K, V>(name: string): MapState<K, V>;
  reducing<T>(name: string, reduce: (a: T, b: T) => T): ReducingState<T>;
}

export type StateKind = 'value' | 'list' | 'map' | 'reducing';

/** Key groups [start, end) owned by one subtask. */
export interface KeyGroupRange {
  start: number;
  end: number;
}

/**
 * A snapshot of keyed state, plain data that msgpack carries: per key group, per state,
 * the entries of every key. Restoring keeps only the key groups of the restoring subtask,
 * which is how state is redistributed when parallelism changes.
 */
export interface KeyedStateSnapshot {
  maxParallelism: number;
  /** State name → its kind (a name keeps its kind for its whole life). */
  kinds: Record<string, StateKind>;
  /** Key group → state name → [canonical key, key, value] (for map state the value is [[mapKey, mapValue], …]). */
  groups: Record<number, Record<string, [string, unknown, unknown][]>>;
}
