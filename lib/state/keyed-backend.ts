import { CloudflinkError } from '../errors/index.ts';
import { canonicalKey, keyGroupOf } from '../partition/index.ts';
import { contains } from './key-group-range.ts';
import type {
  KeyGroupRange, KeyedStateSnapshot, KeyedStateStore, ListState, MapState, ReducingState, StateKind, ValueState,
} from './types.ts';

/** One key's entry in one state: the key as the user gave it, and the state's value for it. */
interface Entry {
  key: unknown;
  value: unknown;
}

/** canonical key → entry */
type Keys = Map<string, Entry>;
/** A map state's value: canonical map key → [map key, map value]. */
type MapValue = Map<string, [unknown, unknown]>;

/**
 * Keyed state of one subtask, in memory: key group → state name → canonical key → entry.
 * An entry exists only while its state is non-empty, so snapshots, `keys` and `size`
 * see exactly the keys that hold something.
 */
export class KeyedStateBackend {
  readonly maxParallelism: number;
  readonly range: KeyGroupRange;
  readonly store: KeyedStateStore;

  private readonly groups = new Map<number, Map<string, Keys>>();
  private readonly kinds = new Map<string, StateKind>();
  private readonly handles = new Map<string, unknown>();
  private readonly reducers = new Map<string, (a: unknown, b: unknown) => unknown>();
  private current?: { key: unknown; canonical: string; keyGroup: number };

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
      value: <T>(name: string) => this.handle(name, 'value', () => this.valueState<T>(name)),
      list: <T>(name: string) => this.handle(name, 'list', () => this.listState<T>(name)),
      map: <K, V>(name: string) => this.handle(name, 'map', () => this.mapState<K, V>(name)),
      reducing: <T>(name: string, reduce: (a: T, b: T) => T) => {
        // The latest function wins: a handle asked again (say, per record) needs no new object.
        this.reducers.set(name, reduce as (a: unknown, b: unknown) => unknown);
        return this.handle(name, 'reducing', () => this.reducingState<T>(name));
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
    this.current = { key, canonical, keyGroup };
  }

  /** The key set last, or undefined before any. */
  get currentKey(): unknown {
    return this.current?.key;
  }

  /** The keys holding a non-empty state `name`, in key-group order. */
  keys(name: string): unknown[] {
    const keys: unknown[] = [];
    for (const states of this.groups.values()) {
      for (const entry of states.get(name)?.values() ?? []) keys.push(entry.key);
    }
    return keys;
  }

  /** The number of keys holding any state. */
  get size(): number {
    let size = 0;
    for (const states of this.groups.values()) {
      if (states.size === 1) {
        for (const keys of states.values()) size += keys.size;
      } else {
        const distinct = new Set<string>();
        for (const keys of states.values()) for (const canonical of keys.keys()) distinct.add(canonical);
        size += distinct.size;
      }
    }
    return size;
  }

  /**
   * All state as plain data. Values are not deep-copied (a list is the live array): encode
   * the snapshot before the next record touches the state.
   */
  snapshot(): KeyedStateSnapshot {
    const kinds: Record<string, StateKind> = {};
    const groups: KeyedStateSnapshot['groups'] = {};
    for (const [keyGroup, states] of this.groups) {
      const group: Record<string, [string, unknown, unknown][]> = {};
      for (const [name, keys] of states) {
        const kind = this.kinds.get(name)!;
        kinds[name] = kind;
        group[name] = Array.from(keys, ([canonical, { key, value }]) =>
          [canonical, key, kind === 'map' ? Array.from((value as MapValue).values()) : value]);
      }
      groups[keyGroup] = group;
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
    const restored = new Set<number>();
    for (const snapshot of snapshots) {
      for (const [name, kind] of Object.entries(snapshot.kinds)) this.register(name, kind);
      // msgpack and JSON turn the numeric key groups into strings.
      for (const [group, states] of Object.entries(snapshot.groups)) {
        const keyGroup = Number(group);
        if (!contains(this.range, keyGroup)) continue;
        if (restored.has(keyGroup) || this.groups.has(keyGroup)) {
          throw new CloudflinkError('INTERNAL', `key group ${keyGroup} is restored twice: two snapshots (or this backend and a snapshot) both hold it`);
        }
        restored.add(keyGroup);
        const target = new Map<string, Keys>();
        for (const [name, entries] of Object.entries(states)) {
          if (entries.length === 0) continue;
          const kind = snapshot.kinds[name];
          if (kind === undefined) throw new CloudflinkError('INTERNAL', `the snapshot holds state '${name}' but not its kind`);
          const keys: Keys = new Map();
          for (const [canonical, key, value] of entries) {
            keys.set(canonical, {
              key,
              value: kind === 'map'
                ? new Map((value as [unknown, unknown][]).map(([k, v]) => [canonicalKey(k), [k, v]]))
                : value,
            });
          }
          target.set(name, keys);
        }
        if (target.size > 0) this.groups.set(keyGroup, target);
      }
    }
  }

  private register(name: string, kind: StateKind): void {
    const known = this.kinds.get(name);
    if (known === undefined) this.kinds.set(name, kind);
    else if (known !== kind) {
      throw new CloudflinkError('UDF_FAILED', `state '${name}' is a ${known} state; it cannot also be used as a ${kind} state (give one of them another name)`);
    }
  }

  private handle<H>(name: string, kind: StateKind, create: () => H): H {
    this.register(name, kind);
    let handle = this.handles.get(name) as H | undefined;
    if (handle === undefined) {
      handle = create();
      this.handles.set(name, handle);
    }
    return handle;
  }

  private key(name: string): { canonical: string; keyGroup: number } {
    if (this.current === undefined) {
      throw new CloudflinkError('INTERNAL', `keyed state '${name}' was used with no current key; keyed state exists only while a keyed record (or timer) is processed`);
    }
    return this.current;
  }

  private get(name: string): unknown {
    const { canonical, keyGroup } = this.key(name);
    return this.groups.get(keyGroup)?.get(name)?.get(canonical)?.value;
  }

  /** Sets the current key's value of `name`; undefined removes the entry, and empty maps with it. */
  private set(name: string, value: unknown): void {
    const { canonical, keyGroup } = this.key(name);
    if (value === undefined) {
      const states = this.groups.get(keyGroup);
      const keys = states?.get(name);
      if (!keys?.delete(canonical)) return;
      if (keys.size === 0) states!.delete(name);
      if (states!.size === 0) this.groups.delete(keyGroup);
      return;
    }
    let states = this.groups.get(keyGroup);
    if (states === undefined) this.groups.set(keyGroup, (states = new Map()));
    let keys = states.get(name);
    if (keys === undefined) states.set(name, (keys = new Map()));
    const entry = keys.get(canonical);
    if (entry === undefined) keys.set(canonical, { key: this.current!.key, value });
    else entry.value = value;
  }

  private valueState<T>(name: string): ValueState<T> {
    return {
      value: () => this.get(name) as T | undefined,
      update: (value) => this.set(name, value),
      clear: () => this.set(name, undefined),
    };
  }

  private listState<T>(name: string): ListState<T> {
    return {
      get: () => [...((this.get(name) as T[] | undefined) ?? [])],
      add: (value) => {
        const list = this.get(name) as T[] | undefined;
        if (list === undefined) this.set(name, [value]);
        else list.push(value);
      },
      update: (values) => this.set(name, values.length === 0 ? undefined : [...values]),
      clear: () => this.set(name, undefined),
    };
  }

  private mapState<K, V>(name: string): MapState<K, V> {
    const read = () => this.get(name) as MapValue | undefined;
    return {
      get: (key) => read()?.get(canonicalKey(key))?.[1] as V | undefined,
      put: (key, value) => {
        const map = read();
        if (map === undefined) this.set(name, new Map([[canonicalKey(key), [key, value]]]));
        else map.set(canonicalKey(key), [key, value]);
      },
      remove: (key) => {
        const map = read();
        if (map?.delete(canonicalKey(key)) && map.size === 0) this.set(name, undefined);
      },
      contains: (key) => read()?.has(canonicalKey(key)) ?? false,
      entries: () => Array.from(read()?.values() ?? [], ([k, v]) => [k as K, v as V]),
      keys: () => Array.from(read()?.values() ?? [], ([k]) => k as K),
      values: () => Array.from(read()?.values() ?? [], ([, v]) => v as V),
      isEmpty: () => read() === undefined,
      clear: () => this.set(name, undefined),
    };
  }

  private reducingState<T>(name: string): ReducingState<T> {
    return {
      get: () => this.get(name) as T | undefined,
      add: (value) => {
        const previous = this.get(name) as T | undefined;
        this.set(name, previous === undefined ? value : this.reducers.get(name)!(previous, value));
      },
      clear: () => this.set(name, undefined),
    };
  }
}
