import { expect } from 'chai';
import { decode, encode } from '../../../lib/codec/index.ts';
import { canonicalKey, keyGroupOf, subtaskForKey } from '../../../lib/partition/index.ts';
import { KeyedStateBackend, keyGroupRangeFor, type KeyedStateSnapshot, type KeyedStateStore } from '../../../lib/state/index.ts';
import { prng } from '../../helpers/random.ts';

const MAX_P = 128;
const whole = () => new KeyedStateBackend({ maxParallelism: MAX_P, range: { start: 0, end: MAX_P } });
const viaWire = (snapshot: KeyedStateSnapshot) => decode<KeyedStateSnapshot>(encode(snapshot));

/** Two keys of different key groups, so that a hand-written snapshot has two groups. */
const A = 'a';
const B = 7;
const kgA = keyGroupOf(canonicalKey(A), MAX_P);
const kgB = keyGroupOf(canonicalKey(B), MAX_P);

/** A snapshot as checkpoints have always held it, written out by hand. */
const written = (): KeyedStateSnapshot => ({
  maxParallelism: MAX_P,
  kinds: { count: 'value', log: 'list', seen: 'map', total: 'reducing' },
  groups: {
    [kgA]: {
      count: [['sa', 'a', 3]],
      log: [['sa', 'a', [1, 2]]],
      seen: [['sa', 'a', [['x', 1], [{ p: 1 }, 2]]]],
    },
    [kgB]: {
      count: [['n7', 7, 1]],
      total: [['n7', 7, 10]],
    },
  },
});

describe('keyed state backend: layout', () => {
  it('uses two keys of different key groups', () => {
    expect(kgA).to.not.equal(kgB);
  });

  it('writes the snapshot format checkpoints have always held', () => {
    const backend = whole();
    const { store } = backend;
    backend.setCurrentKey(A);
    store.value<number>('count').update(3);
    store.list<number>('log').add(1);
    store.list<number>('log').add(2);
    store.map<unknown, number>('seen').put('x', 1);
    store.map<unknown, number>('seen').put({ p: 1 }, 2);
    backend.setCurrentKey(B);
    store.value<number>('count').update(1);
    store.reducing<number>('total', (a, b) => a + b).add(4);
    store.reducing<number>('total', (a, b) => a + b).add(6);
    store.list<number>('log').add(9);
    store.list<number>('log').clear();
    expect(viaWire(backend.snapshot())).to.deep.equal(written());
  });

  it('restores a snapshot written before, and snapshots it back unchanged', () => {
    const backend = whole();
    backend.restore([viaWire(written())]);
    expect(backend.snapshot()).to.deep.equal(written());
    expect(backend.size).to.equal(2);
    const { store } = backend;
    backend.setCurrentKey(A);
    expect(store.value('count').value()).to.equal(3);
    expect(store.list('log').get()).to.deep.equal([1, 2]);
    expect(store.map<unknown, number>('seen').get({ p: 1 })).to.equal(2);
    backend.setCurrentKey(B);
    expect(store.reducing<number>('total', (a, b) => a + b).get()).to.equal(10);
    expect(store.list('log').get()).to.deep.equal([]);
  });

  it('lets handles taken before a restore see the restored state', () => {
    // An operator takes its handles when it is built, and is restored after.
    const backend = whole();
    const count = backend.store.value<number>('count');
    const total = backend.store.reducing<number>('total', (a, b) => a + b);
    const seen = backend.store.map<unknown, number>('seen');
    backend.restore([viaWire(written())]);
    backend.setCurrentKey(A);
    expect(count.value()).to.equal(3);
    expect(seen.entries()).to.deep.equal([['x', 1], [{ p: 1 }, 2]]);
    count.update(4);
    backend.setCurrentKey(B);
    total.add(1);
    expect(total.get()).to.equal(11);
    backend.setCurrentKey(A);
    expect(backend.store.value('count').value()).to.equal(4);
  });

  it('restores a key group again once every entry of it is gone, and not while one is left', () => {
    const backend = whole();
    backend.restore([viaWire(written())]);
    const again = viaWire(written());
    delete again.groups[kgB];
    expect(() => backend.restore([again])).to.throw(new RegExp(`key group ${kgA} is restored twice`));
    backend.setCurrentKey(A);
    backend.store.value('count').clear();
    backend.store.list('log').update([]);
    const seen = backend.store.map<unknown, number>('seen');
    seen.remove('x');
    expect(() => backend.restore([again])).to.throw(new RegExp(`key group ${kgA} is restored twice`));
    seen.remove({ p: 1 });
    expect(backend.keys('seen')).to.deep.equal([]);
    backend.restore([again]);
    expect(backend.snapshot()).to.deep.equal(written());
  });

  it('removes the entry of a reducing state whose function returns undefined', () => {
    const backend = whole();
    const capped = backend.store.reducing<number | undefined>('capped', (a, b) => (a! + b! > 10 ? undefined : a! + b!));
    backend.setCurrentKey(A);
    capped.add(6);
    expect(backend.size).to.equal(1);
    capped.add(6);
    expect(capped.get()).to.equal(undefined);
    expect(backend.size).to.equal(0);
    expect(backend.snapshot()).to.deep.equal({ maxParallelism: MAX_P, kinds: {}, groups: {} });
  });

  it('lists keys in key-group order, whatever the order they came in', () => {
    const backend = whole();
    const v = backend.store.value<number>('v');
    const keys = Array.from({ length: 300 }, (_, i) => (i % 2 ? `k${i}` : i));
    for (const key of keys) {
      backend.setCurrentKey(key);
      v.update(1);
    }
    const groups = backend.keys('v').map((key) => keyGroupOf(canonicalKey(key), MAX_P));
    expect(groups).to.deep.equal([...groups].sort((a, b) => a - b));
    expect(backend.keys('v')).to.have.members(keys);
  });
});

/**
 * The backend against a model as plain as it gets (state name → canonical key → key and
 * value, in the order the keys came), through random operations, a snapshot and a
 * restore at another parallelism.
 */
describe('keyed state backend: against a model', () => {
  type ModelEntry = { key: unknown; value: unknown };
  type Model = Map<string, Map<string, ModelEntry>>;
  const NAMES = { v: 'value', l: 'list', m: 'map', r: 'reducing' } as const;
  const KEYS: unknown[] = [
    ...Array.from({ length: 40 }, (_, i) => `w${i}`), ...Array.from({ length: 10 }, (_, i) => i), -0, 2.5, true, null,
    [1, 'x'], { p: 1, q: [2] }, 10n, new Date(3),
  ];
  const MAP_KEYS: unknown[] = ['x', 'y', 1, { a: 1 }, [2]];
  const sumUpTo50 = (a: number, b: number): number => (a + b > 50 ? (undefined as unknown as number) : a + b);

  function expectedSnapshot(model: Model, owns: (keyGroup: number) => boolean = () => true): KeyedStateSnapshot {
    const kinds: KeyedStateSnapshot['kinds'] = {};
    const groups: KeyedStateSnapshot['groups'] = {};
    for (const [name, entries] of model) {
      for (const [canonical, { key, value }] of entries) {
        const keyGroup = keyGroupOf(canonical, MAX_P);
        if (!owns(keyGroup)) continue;
        kinds[name] = NAMES[name as keyof typeof NAMES];
        const group = (groups[keyGroup] ??= {});
        (group[name] ??= []).push([canonical, key, name === 'm' ? Array.from((value as Map<string, unknown>).values()) : value]);
      }
    }
    return { maxParallelism: MAX_P, kinds, groups };
  }

  function expectedKeys(model: Model, name: string, owns: (keyGroup: number) => boolean = () => true): unknown[] {
    return Array.from(model.get(name)!.entries())
      .map(([canonical, { key }]) => ({ key, keyGroup: keyGroupOf(canonical, MAX_P) }))
      .filter(({ keyGroup }) => owns(keyGroup))
      .sort((a, b) => a.keyGroup - b.keyGroup)
      .map(({ key }) => key);
  }

  /** One random operation on the current key of `store`, done to the model as well; then reads every state back. */
  function step(random: () => number, store: KeyedStateStore, model: Model, canonical: string, key: unknown): void {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const n = 1 + Math.floor(random() * 20);
    const put = (name: string, value: unknown) => {
      const entries = model.get(name)!;
      if (value === undefined) entries.delete(canonical);
      else if (entries.has(canonical)) entries.get(canonical)!.value = value;
      else entries.set(canonical, { key, value });
    };
    const now = (name: string) => model.get(name)!.get(canonical)?.value;
    const v = store.value<number>('v');
    const l = store.list<number>('l');
    const m = store.map<unknown, number>('m');
    const r = store.reducing<number>('r', sumUpTo50);
    switch (pick(['v.update', 'v.clear', 'l.add', 'l.update', 'l.clear', 'm.put', 'm.remove', 'm.clear', 'r.add', 'r.clear'] as const)) {
      case 'v.update': v.update(n); put('v', n); break;
      case 'v.clear': v.clear(); put('v', undefined); break;
      case 'l.add': l.add(n); put('l', [...((now('l') as number[] | undefined) ?? []), n]); break;
      case 'l.update': {
        const values = random() < 0.3 ? [] : [n, n + 1];
        l.update(values);
        put('l', values.length === 0 ? undefined : [...values]);
        break;
      }
      case 'l.clear': l.clear(); put('l', undefined); break;
      case 'm.put': {
        const mapKey = pick(MAP_KEYS);
        m.put(mapKey, n);
        const map = new Map((now('m') as Map<string, [unknown, number]> | undefined) ?? []);
        map.set(canonicalKey(mapKey), [mapKey, n]);
        put('m', map);
        break;
      }
      case 'm.remove': {
        const mapKey = pick(MAP_KEYS);
        m.remove(mapKey);
        const map = new Map((now('m') as Map<string, [unknown, number]> | undefined) ?? []);
        map.delete(canonicalKey(mapKey));
        put('m', map.size === 0 ? undefined : map);
        break;
      }
      case 'm.clear': m.clear(); put('m', undefined); break;
      case 'r.add': {
        r.add(n);
        const before = now('r') as number | undefined;
        put('r', before === undefined ? n : sumUpTo50(before, n));
        break;
      }
      case 'r.clear': r.clear(); put('r', undefined); break;
    }
    expect(v.value()).to.equal(now('v'));
    expect(l.get()).to.deep.equal(now('l') ?? []);
    expect(m.entries()).to.deep.equal(Array.from(((now('m') as Map<string, [unknown, number]> | undefined) ?? new Map()).values()));
    expect(m.isEmpty()).to.equal(now('m') === undefined);
    expect(r.get()).to.equal(now('r'));
  }

  for (const seed of [1, 2, 3]) {
    it(`agrees with the model on every read, snapshot, key list and size (seed ${seed})`, () => {
      const random = prng(seed);
      const model: Model = new Map(Object.keys(NAMES).map((name) => [name, new Map()]));
      const distinct = () => new Set(Array.from(model.values(), (entries) => [...entries.keys()]).flat()).size;

      const first = whole();
      for (let i = 0; i < 3000; i++) {
        const key = KEYS[Math.floor(random() * KEYS.length)];
        first.setCurrentKey(key);
        step(random, first.store, model, canonicalKey(key), key);
        if (i % 500 === 499) {
          expect(first.snapshot()).to.deep.equal(expectedSnapshot(model));
          expect(first.size).to.equal(distinct());
          for (const name of Object.keys(NAMES)) expect(first.keys(name)).to.deep.equal(expectedKeys(model, name));
        }
      }

      // Restored at parallelism 3, into backends whose handles were taken before the restore.
      const snapshot = viaWire(first.snapshot());
      const ranges = [0, 1, 2].map((i) => keyGroupRangeFor(i, 3, MAX_P));
      const backends = ranges.map((range) => new KeyedStateBackend({ maxParallelism: MAX_P, range }));
      for (const backend of backends) {
        const { store } = backend;
        store.value('v');
        store.list('l');
        store.map('m');
        store.reducing('r', sumUpTo50);
        backend.restore([snapshot]);
      }
      for (let i = 0; i < 3000; i++) {
        const key = KEYS[Math.floor(random() * KEYS.length)];
        const backend = backends[subtaskForKey(canonicalKey(key), MAX_P, 3)]!;
        backend.setCurrentKey(key);
        step(random, backend.store, model, canonicalKey(key), key);
      }
      backends.forEach((backend, i) => {
        const owns = (keyGroup: number) => keyGroup >= ranges[i]!.start && keyGroup < ranges[i]!.end;
        expect(backend.snapshot(), `subtask ${i}`).to.deep.equal(expectedSnapshot(model, owns));
        for (const name of Object.keys(NAMES)) expect(backend.keys(name)).to.deep.equal(expectedKeys(model, name, owns));
      });
      expect(backends.reduce((n, backend) => n + backend.size, 0)).to.equal(distinct());
    });
  }
});
