import { CloudflinkError } from '../errors/index.ts';
import { canonicalKey, keyGroupOf } from '../partition/index.ts';
import { contains } from './key-group-range.ts';
import type {
  KeyGroupRange, KeyedStateSnapshot, KeyedStateStore, ListState, MapState, ReducingState, StateKind, ValueState,
} from './types.ts';

/** One key's entry in one state: the key as the user gave it, its key group, and the state's value for it. */
interface Entry {
  key: unknown;
  keyGroup: number;
  value: unknown;
}

/** A map state's value: canonical map key → [map key, map value]. */
type MapValue = Map<string, [unknown, unknown]>;

/** One named state: its kind, its entries by canonical key, and the handle given out for it. */
interface State {
  readonly name: string;
  readonly kind: StateKind;
  readonly entries: Map<string, Entry>;
  handle?: unknown;
  /** Reducing state only: the function given last. */
  reduce?: (a: unknown, b: unknown) => unknown;
}

/**
 * Keyed state of one subtask, in memory: state name → canonical key → entry, each entry
 * knowing its key group. The hot path allocates nothing for a key it knows and costs one
 * Map lookup per state access: each handle holds its state, the current key lives in fields
 * of the backend, and an update changes the entry in place. Snapshots group the entries by
 * key group when they are taken. An entry exists only while its state is non-empty, so
 * snapshots, `keys` and `size` see exactly the keys that hold something.
 */
export class KeyedStateBackend {
  readonly maxParallelism: number;
  readonly range: KeyGroupRange;
  readonly store: KeyedStateStore;

  private readonly states = new Map<string, State>();
  private key: unknown = undefined;
  /** undefined until the first key is set. */
  private canonical: string | undefined = undefined;
  private keyGroup = -1;

  constructor(options: { maxParallelism: number; range: KeyGroupRange }) {
    const { maxParallelism, range } = options;
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
      throw new CloudflinkError('INTERNAL', `maxParallelism must be a positive integer, not ${maxParallelism}`);
    }
    if (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 0 || range.end > maxParallelism || range.start > range.end) {
      throw new CloudflinkError('INTERNAL', `key-group range [${range.start}, ${range.end}) is not within [0, ${maxParallelism})`);
    }
    this.maxParallelism = maxParallelism;
    this.range = { start: range.start, end: range.end };
    this.store = {
      value: <T>(name: string) => this.handle(name, 'value', (state) => this.valueState<T>(state)),
      list: <T>(name: string) => this.handle(name, 'list', (state) => this.listState<T>(state)),
      map: <K, V>(name: string) => this.handle(name, 'map', (state) => this.mapState<K, V>(state)),
      reducing: <T>(name: string, reduce: (a: T, b: T) => T) => {
        const handle = this.handle(name, 'reducing', (state) => this.reducingState<T>(state));
        // The latest function wins: a handle asked again (say, per record) needs no new object.
        this.states.get(name)!.reduce = reduce as (a: unknown, b: unknown) => unknown;
        return handle;
      },
    };
  }

  /** Scopes every state to `key` until the next call; the key's group must be one of this subtask's. */
  setCurrentKey(key: unknown): void {
    const canonical = canonicalKey(key);
    const keyGroup = keyGroupOf(canonical, this.maxParallelism);
    if (!contains(this.range, keyGroup)) {
      throw new CloudflinkError('INTERNAL',
        `key ${canonical} is in key group ${keyGroup}, outside this subtask's key groups [${this.range.start}, ${this.range.end}) ` +
        `(maxParallelism ${this.maxParallelism}): the record was routed to the wrong subtask`);
    }
    this.key = key;
    this.canonical = canonical;
    this.keyGroup = keyGroup;
  }

  /** The key set last, or undefined before any. */
  get currentKey(): unknown {
    return this.key;
  }

  /** The keys holding a non-empty state `name`, in key-group order (within a group, in the order they came). */
  keys(name: string): unknown[] {
    const entries = Array.from(this.states.get(name)?.entries.values() ?? []);
    // Array.prototype.sort is stable, so each group keeps its keys in their order.
    entries.sort((a, b) => a.keyGroup - b.keyGroup);
    return entries.map((entry) => entry.key);
  }

  /** The number of keys holding any state. */
  get size(): number {
    let only: State | undefined;
    let nonEmpty = 0;
    for (const state of this.states.values()) {
      if (state.entries.size > 0) { only = state; nonEmpty++; }
    }
    if (nonEmpty <= 1) return only?.entries.size ?? 0;
    const distinct = new Set<string>();
    for (const state of this.states.values()) for (const canonical of state.entries.keys()) distinct.add(canonical);
    return distinct.size;
  }

  /**
   * All state as plain data. Values are not deep-copied (a list is the live array): encode
   * the snapshot before the next record touches the state.
   */
  snapshot(): KeyedStateSnapshot {
    const kinds: Record<string, StateKind> = {};
    const groups: KeyedStateSnapshot['groups'] = {};
    for (const { name, kind, entries } of this.states.values()) {
      if (entries.size === 0) continue;
      kinds[name] = kind;
      for (const [canonical, { key, keyGroup, value }] of entries) {
        const group = (groups[keyGroup] ??= {});
        (group[name] ??= []).push([canonical, key, kind === 'map' ? Array.from((value as MapValue).values()) : value]);
      }
    }
    return { maxParallelism: this.maxParallelism, kinds, groups };
  }

  /**
   * Takes this subtask's key groups from the snapshots of every subtask of an earlier run
   * (at any parallelism, but the same maxParallelism), and ignores the others.
   */
  restore(snapshots: KeyedStateSnapshot[]): void {
    for (const snapshot of snapshots) {
      if (snapshot.maxParallelism !== this.maxParallelism) {
        throw new CloudflinkError('CONFIG_INVALID',
          `the state was written with maxParallelism ${snapshot.maxParallelism} and the job now has ${this.maxParallelism}; ` +
          'key groups cannot be remapped, so keep the maxParallelism of the checkpoint or savepoint');
      }
    }
    const held = new Set<number>();
    for (const state of this.states.values()) for (const entry of state.entries.values()) held.add(entry.keyGroup);
    const restored = new Set<number>();
    for (const snapshot of snapshots) {
      for (const [name, kind] of Object.entries(snapshot.kinds)) this.register(name, kind);
      // msgpack and JSON turn the numeric key groups into strings.
      for (const [group, states] of Object.entries(snapshot.groups)) {
        const keyGroup = Number(group);
        if (!contains(this.range, keyGroup)) continue;
        if (restored.has(keyGroup) || held.has(keyGroup)) {
          throw new CloudflinkError('INTERNAL', `key group ${keyGroup} is restored twice: two snapshots (or this backend and a snapshot) both hold it`);
        }
        restored.add(keyGroup);
        for (const [name, entries] of Object.entries(states)) {
          if (entries.length === 0) continue;
          const kind = snapshot.kinds[name];
          if (kind === undefined) throw new CloudflinkError('INTERNAL', `the snapshot holds state '${name}' but not its kind`);
          // Into the state's own map: handles taken before the restore see what it brings.
          const target = this.states.get(name)!.entries;
          for (const [canonical, key, value] of entries) {
            target.set(canonical, {
              key,
              keyGroup,
              value: kind === 'map'
                ? new Map((value as [unknown, unknown][]).map(([k, v]) => [canonicalKey(k), [k, v]]))
                : value,
            });
          }
        }
      }
    }
  }

  private register(name: string, kind: StateKind): State {
    const known = this.states.get(name);
    if (known === undefined) {
      const state: State = { name, kind, entries: new Map(), handle: undefined, reduce: undefined };
      this.states.set(name, state);
      return state;
    }
    if (known.kind !== kind) {
      throw new CloudflinkError('UDF_FAILED', `state '${name}' is a ${known.kind} state; it cannot also be used as a ${kind} state (give one of them another name)`);
    }
    return known;
  }

  private handle<H>(name: string, kind: StateKind, create: (state: State) => H): H {
    const state = this.register(name, kind);
    return (state.handle ??= create(state)) as H;
  }

  /** The current key's entry in `state`, if it has one. */
  private entry(state: State): Entry | undefined {
    const canonical = this.canonical;
    if (canonical === undefined) {
      throw new CloudflinkError('INTERNAL', `keyed state '${state.name}' was used with no current key; keyed state exists only while a keyed record (or timer) is processed`);
    }
    return state.entries.get(canonical);
  }

  /** Gives the current key an entry in `state`; only when `entry` found none. */
  private insert(state: State, value: unknown): void {
    state.entries.set(this.canonical!, { key: this.key, keyGroup: this.keyGroup, value });
  }

  /** Removes the current key's entry from `state`; only when `entry` found one. */
  private remove(state: State): void {
    state.entries.delete(this.canonical!);
  }

  /** Sets the current key's value of `state`: in place if it has one; undefined removes it. */
  private set(state: State, value: unknown): void {
    const entry = this.entry(state);
    if (value === undefined) {
      if (entry !== undefined) this.remove(state);
    } else if (entry === undefined) {
      this.insert(state, value);
    } else {
      entry.value = value;
    }
  }

  private valueState<T>(state: State): ValueState<T> {
    return {
      value: () => this.entry(state)?.value as T | undefined,
      update: (value) => this.set(state, value),
      clear: () => this.set(state, undefined),
    };
  }

  private listState<T>(state: State): ListState<T> {
    return {
      get: () => [...((this.entry(state)?.value as T[] | undefined) ?? [])],
      add: (value) => {
        const entry = this.entry(state);
        if (entry === undefined) this.insert(state, [value]);
        else (entry.value as T[]).push(value);
      },
      update: (values) => this.set(state, values.length === 0 ? undefined : [...values]),
      clear: () => this.set(state, undefined),
    };
  }

  private mapState<K, V>(state: State): MapState<K, V> {
    const read = () => this.entry(state)?.value as MapValue | undefined;
    return {
      get: (key) => read()?.get(canonicalKey(key))?.[1] as V | undefined,
      put: (key, value) => {
        const entry = this.entry(state);
        if (entry === undefined) this.insert(state, new Map([[canonicalKey(key), [key, value]]]));
        else (entry.value as MapValue).set(canonicalKey(key), [key, value]);
      },
      remove: (key) => {
        const map = read();
        if (map?.delete(canonicalKey(key)) && map.size === 0) this.remove(state);
      },
      contains: (key) => read()?.has(canonicalKey(key)) ?? false,
      entries: () => Array.from(read()?.values() ?? [], ([k, v]) => [k as K, v as V]),
      keys: () => Array.from(read()?.values() ?? [], ([k]) => k as K),
      values: () => Array.from(read()?.values() ?? [], ([, v]) => v as V),
      isEmpty: () => read() === undefined,
      clear: () => this.set(state, undefined),
    };
  }

  private reducingState<T>(state: State): ReducingState<T> {
    return {
      get: () => this.entry(state)?.value as T | undefined,
      add: (value) => {
        const entry = this.entry(state);
        if (entry === undefined) {
          if (value !== undefined) this.insert(state, value);
          return;
        }
        const next = state.reduce!(entry.value, value);
        if (next === undefined) this.remove(state);
        else entry.value = next;
      },
      clear: () => this.set(state, undefined),
    };
  }
}
