import { expect } from 'chai';
import { decode, encode } from '../../../lib/codec/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { canonicalKey, keyGroupOf, subtaskForKey } from '../../../lib/partition/index.ts';
import { KeyedStateBackend, keyGroupRangeFor, type KeyedStateSnapshot } from '../../../lib/state/index.ts';

const MAX_P = 128;
const whole = () => new KeyedStateBackend({ maxParallelism: MAX_P, range: { start: 0, end: MAX_P } });
const viaWire = (snapshot: KeyedStateSnapshot) => decode<KeyedStateSnapshot>(encode(snapshot));

describe('keyed state backend', () => {
  it('keeps value state per key', () => {
    const backend = whole();
    const count = backend.store.value<number>('count');
    backend.setCurrentKey('a');
    expect(count.value()).to.equal(undefined);
    count.update(1);
    backend.setCurrentKey('b');
    expect(count.value()).to.equal(undefined);
    count.update(2);
    backend.setCurrentKey('a');
    expect(count.value()).to.equal(1);
    expect(backend.store.value<number>('count').value()).to.equal(1);
    count.clear();
    expect(count.value()).to.equal(undefined);
    backend.setCurrentKey('b');
    expect(count.value()).to.equal(2);
    expect(backend.currentKey).to.equal('b');
  });

  it('tells keys apart by value, not identity, and keeps the key as given', () => {
    const backend = whole();
    const seen = backend.store.value<string>('seen');
    backend.setCurrentKey({ user: 1, region: 'eu' });
    seen.update('x');
    backend.setCurrentKey({ region: 'eu', user: 1 });
    expect(seen.value()).to.equal('x');
    backend.setCurrentKey([1, 'eu']);
    expect(seen.value()).to.equal(undefined);
    expect(backend.keys('seen')).to.deep.equal([{ user: 1, region: 'eu' }]);
  });

  it('keeps list state per key', () => {
    const backend = whole();
    const list = backend.store.list<number>('items');
    backend.setCurrentKey(1);
    list.add(1);
    list.add(2);
    backend.setCurrentKey(2);
    expect(list.get()).to.deep.equal([]);
    list.update([9, 8]);
    backend.setCurrentKey(1);
    const got = list.get();
    expect(got).to.deep.equal([1, 2]);
    got.push(3); // a copy: the state does not change behind the caller's back
    expect(list.get()).to.deep.equal([1, 2]);
    list.update([]);
    expect(list.get()).to.deep.equal([]);
    expect(backend.keys('items')).to.deep.equal([2]);
  });

  it('keeps map state per key, with keys of any msgpack value', () => {
    const backend = whole();
    const map = backend.store.map<unknown, number>('m');
    backend.setCurrentKey('a');
    expect(map.isEmpty()).to.equal(true);
    map.put('x', 1);
    map.put({ b: 2, a: 1 }, 2);
    map.put(3, 3);
    expect(map.get({ a: 1, b: 2 })).to.equal(2);
    expect(map.get('3')).to.equal(undefined);
    expect(map.contains(3)).to.equal(true);
    map.put('x', 10);
    expect(map.entries()).to.deep.equal([['x', 10], [{ b: 2, a: 1 }, 2], [3, 3]]);
    expect(map.keys()).to.deep.equal(['x', { b: 2, a: 1 }, 3]);
    expect(map.values()).to.deep.equal([10, 2, 3]);
    backend.setCurrentKey('b');
    expect(map.isEmpty()).to.equal(true);
    expect(map.get('x')).to.equal(undefined);
    map.put('y', 5);
    backend.setCurrentKey('a');
    map.remove('x');
    map.remove('missing');
    expect(map.contains('x')).to.equal(false);
    map.remove(3);
    map.remove({ a: 1, b: 2 });
    expect(map.isEmpty()).to.equal(true);
    expect(backend.keys('m')).to.deep.equal(['b']);
    backend.setCurrentKey('b');
    map.clear();
    expect(backend.size).to.equal(0);
  });

  it('applies the reduce function on add, per key', () => {
    const backend = whole();
    const max = backend.store.reducing<number>('max', (a, b) => Math.max(a, b));
    backend.setCurrentKey('a');
    expect(max.get()).to.equal(undefined);
    max.add(3);
    max.add(1);
    max.add(7);
    backend.setCurrentKey('b');
    max.add(-4);
    expect(max.get()).to.equal(-4);
    backend.setCurrentKey('a');
    expect(max.get()).to.equal(7);
    max.clear();
    expect(max.get()).to.equal(undefined);
  });

  it('counts the keys that hold any state, and lists keys per state', () => {
    const backend = whole();
    const { store } = backend;
    for (const key of ['a', 'b', 'c']) {
      backend.setCurrentKey(key);
      store.value<number>('v').update(1);
    }
    backend.setCurrentKey('a');
    store.list<number>('l').add(1);
    backend.setCurrentKey('d');
    store.list<number>('l').add(1);
    expect(backend.size).to.equal(4);
    expect(backend.keys('v')).to.have.members(['a', 'b', 'c']);
    expect(backend.keys('l')).to.have.members(['a', 'd']);
    expect(backend.keys('nothing')).to.deep.equal([]);
  });

  it('refuses a name used for another kind of state', () => {
    const backend = whole();
    backend.store.value('x');
    expect(() => backend.store.list('x')).to.throw(CloudflinkError, /state 'x' is a value state; it cannot also be used as a list state/);
    expect(() => backend.store.reducing('x', (a: number, b: number) => a + b)).to.throw(/value state/);
    backend.store.value('x');
  });

  it('refuses state access before any key is set', () => {
    const backend = whole();
    const v = backend.store.value('v');
    expect(backend.currentKey).to.equal(undefined);
    expect(() => v.value()).to.throw(CloudflinkError, /keyed state 'v' was used with no current key/);
    expect(() => backend.store.map('m').put(1, 1)).to.throw(/no current key/);
  });

  it('refuses a key of another subtask, naming its key group', () => {
    const range = keyGroupRangeFor(0, 2, MAX_P);
    const backend = new KeyedStateBackend({ maxParallelism: MAX_P, range });
    let foreign = 0;
    while (subtaskForKey(canonicalKey(foreign), MAX_P, 2) === 0) foreign++;
    const kg = keyGroupOf(canonicalKey(foreign), MAX_P);
    let error: unknown;
    try { backend.setCurrentKey(foreign); } catch (e) { error = e; }
    expect(error).to.be.instanceOf(CloudflinkError);
    expect((error as CloudflinkError).code).to.equal('INTERNAL');
    expect((error as Error).message).to.contain(`key group ${kg}, outside this subtask's key groups [0, 64)`);
  });

  it('snapshots only non-empty state, as plain data that survives msgpack', () => {
    const backend = whole();
    const { store } = backend;
    backend.setCurrentKey('a');
    store.value<number>('v').update(1);
    store.list<number>('empty').add(1);
    store.list<number>('empty').clear();
    store.map<string, number>('m').put('k', 2);
    backend.setCurrentKey(new Date(5));
    store.reducing<number>('sum', (a, b) => a + b).add(4);
    store.value<number>('v').update(0);
    store.value<number | null>('n').update(null);

    const snapshot = backend.snapshot();
    expect(snapshot.kinds).to.deep.equal({ v: 'value', m: 'map', sum: 'reducing', n: 'value' });
    const kgA = keyGroupOf(canonicalKey('a'), MAX_P);
    expect(snapshot.groups[kgA]).to.deep.include({ v: [['sa', 'a', 1]], m: [['sa', 'a', [['k', 2]]]] });

    const restored = whole();
    restored.restore([viaWire(snapshot)]);
    expect(restored.snapshot()).to.deep.equal(snapshot);
    expect(restored.size).to.equal(2);
    restored.setCurrentKey('a');
    expect(restored.store.value('v').value()).to.equal(1);
    expect(restored.store.map<string, number>('m').get('k')).to.equal(2);
    expect(restored.store.list('empty').get()).to.deep.equal([]);
    restored.setCurrentKey(new Date(5));
    const sum = restored.store.reducing<number>('sum', (a, b) => a + b);
    sum.add(6);
    expect(sum.get()).to.equal(10);
    expect(restored.store.value('v').value()).to.equal(0);
    expect(restored.store.value('n').value()).to.equal(null);
    expect(restored.keys('sum')[0]).to.deep.equal(new Date(5));
  });

  it('refuses a snapshot of another maxParallelism', () => {
    const backend = whole();
    backend.setCurrentKey('a');
    backend.store.value('v').update(1);
    const other = new KeyedStateBackend({ maxParallelism: 256, range: { start: 0, end: 256 } });
    expect(() => other.restore([backend.snapshot()])).to.throw(CloudflinkError, /maxParallelism 128 and the job now has 256; key groups cannot be remapped/);
  });

  it('refuses a restored kind that clashes with a state already in use', () => {
    const backend = whole();
    backend.setCurrentKey('a');
    backend.store.value('x').update(1);
    const other = whole();
    other.store.list('x');
    expect(() => other.restore([backend.snapshot()])).to.throw(/state 'x' is a list state; it cannot also be used as a value state/);
  });

  it('refuses the same key group from two snapshots', () => {
    const backend = whole();
    backend.setCurrentKey('a');
    backend.store.value('v').update(1);
    const snapshot = backend.snapshot();
    expect(() => whole().restore([snapshot, snapshot])).to.throw(/key group \d+ is restored twice/);
  });

  describe('redistribution', () => {
    const keyOf = (i: number): unknown => {
      switch (i % 4) {
        case 0: return `word-${i}`;
        case 1: return i;
        case 2: return { id: i, tag: 't' };
        default: return [i, 'x'];
      }
    };
    const KEYS = Array.from({ length: 1000 }, (_, i) => keyOf(i));

    /** Fills one backend per subtask at parallelism 2, every key in the subtask the partitioner names. */
    function oldRun(): KeyedStateSnapshot[] {
      const backends = [0, 1].map((i) => new KeyedStateBackend({ maxParallelism: MAX_P, range: keyGroupRangeFor(i, 2, MAX_P) }));
      KEYS.forEach((key, i) => {
        const backend = backends[subtaskForKey(canonicalKey(key), MAX_P, 2)]!;
        backend.setCurrentKey(key);
        const { store } = backend;
        store.value<number>('v').update(i);
        store.list<number>('l').update([i, i + 1]);
        if (i % 3 === 0) store.map<string, number>('m').put(`k${i}`, i * 2);
        store.reducing<number>('r', (a, b) => a + b).add(i);
        store.reducing<number>('r', (a, b) => a + b).add(1);
      });
      expect(backends[0]!.size + backends[1]!.size).to.equal(1000);
      return backends.map((b) => viaWire(b.snapshot()));
    }

    for (const p of [4, 1, 3]) {
      it(`moves every key's state from p=2 to exactly the subtask that owns it at p=${p}`, () => {
        const snapshots = oldRun();
        const backends = Array.from({ length: p }, (_, i) => {
          const backend = new KeyedStateBackend({ maxParallelism: MAX_P, range: keyGroupRangeFor(i, p, MAX_P) });
          backend.restore(snapshots);
          return backend;
        });
        const owner = new Map<string, number>();
        backends.forEach((backend, i) => {
          for (const key of backend.keys('v')) {
            const canonical = canonicalKey(key);
            expect(owner.has(canonical), `key ${canonical} restored twice`).to.equal(false);
            owner.set(canonical, i);
          }
        });
        expect(owner.size).to.equal(1000);
        expect(backends.reduce((n, b) => n + b.size, 0)).to.equal(1000);
        KEYS.forEach((key, i) => {
          const canonical = canonicalKey(key);
          const subtask = subtaskForKey(canonical, MAX_P, p);
          expect(owner.get(canonical)).to.equal(subtask);
          const backend = backends[subtask]!;
          backend.setCurrentKey(key);
          const { store } = backend;
          expect(store.value('v').value()).to.equal(i);
          expect(store.list('l').get()).to.deep.equal([i, i + 1]);
          expect(store.map<string, number>('m').entries()).to.deep.equal(i % 3 === 0 ? [[`k${i}`, i * 2]] : []);
          expect(store.reducing<number>('r', (a, b) => a + b).get()).to.equal(i + 1);
        });
      });
    }
  });
});
