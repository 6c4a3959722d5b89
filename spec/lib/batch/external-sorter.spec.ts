import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ExternalSorter, FAN_IN } from '../../../lib/batch/index.ts';
import { prng } from '../../helpers/random.ts';

interface Row { key: number; name: string; at: number }

const byKey = (a: Row, b: Row): number => a.key - b.key;
const byNumber = (a: number, b: number): number => a - b;
const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Every record of an iterator. */
function drain<T>(iterator: Iterator<T>): T[] {
  const out: T[] = [];
  for (let r = iterator.next(); !r.done; r = iterator.next()) out.push(r.value);
  return out;
}

/** The files in a directory; none when it is gone. */
function filesIn(directory: string): string[] {
  return existsSync(directory) ? readdirSync(directory) : [];
}

describe('ExternalSorter', function () {
  let root: string;
  let directory: string;
  let sorters: ExternalSorter<unknown>[];

  before(() => { root = mkdtempSync(join(tmpdir(), 'cloudflink-sorter-spec-')); });
  after(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(function () {
    directory = join(root, this.currentTest!.title.replace(/\W+/g, '-').slice(0, 60));
    sorters = [];
  });
  afterEach(() => { for (const sorter of sorters) sorter.close(); });

  function sorter<T>(compare: (a: T, b: T) => number, memoryBytes: number): ExternalSorter<T> {
    const made = new ExternalSorter<T>({ compare, memoryBytes, directory });
    sorters.push(made as ExternalSorter<unknown>);
    return made;
  }

  function sortBoth<T>(records: T[], compare: (a: T, b: T) => number, memoryBytes: number) {
    const external = sorter(compare, memoryBytes);
    for (const record of records) external.add(record);
    const got = drain(external.sorted());
    return { got, want: records.slice().sort(compare), stats: external.stats, external };
  }

  it('sorts random numbers like Array.prototype.sort, in memory and spilled', () => {
    for (const [seed, size, budget] of [[1, 0, 1 << 20], [2, 1, 1 << 20], [3, 1000, 1 << 20], [4, 20_000, 16 * 1024], [5, 5000, 256]] as const) {
      const random = prng(seed);
      const records = Array.from({ length: size }, () => Math.floor(random() * 1000) - 500 + (random() < 0.1 ? 0.5 : 0));
      const { got, want, stats } = sortBoth(records, byNumber, budget);
      expect(got, `seed ${seed}`).to.deep.equal(want);
      expect(stats.records).to.equal(size);
      if (budget === 1 << 20) expect(stats.spilledRuns).to.equal(0);
      else expect(stats.spilledRuns).to.be.greaterThan(1);
    }
  });

  it('sorts random strings, unicode included', () => {
    const random = prng(7);
    // Whole code points: a lone surrogate does not survive UTF-8 (msgpack strings), here as anywhere in cloudflink.
    const alphabet = Array.from('abcxyzé日本😀 ');
    const records = Array.from({ length: 8000 }, () =>
      Array.from({ length: Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''));
    const { got, want, stats } = sortBoth(records, byString, 8 * 1024);
    expect(got).to.deep.equal(want);
    expect(stats.spilledRuns).to.be.greaterThan(10);
  });

  it('is stable: objects with many ties keep the order they were added in', () => {
    for (const seed of [11, 12, 13]) {
      const random = prng(seed);
      const records: Row[] = Array.from({ length: 10_000 }, (_, at) => ({ key: Math.floor(random() * 20), name: `n${Math.floor(random() * 1e6)}`, at }));
      const { got, want } = sortBoth(records, byKey, 4 * 1024);
      expect(got).to.deep.equal(want);
      for (let i = 1; i < got.length; i++) {
        if (got[i]!.key === got[i - 1]!.key) expect(got[i]!.at).to.be.greaterThan(got[i - 1]!.at);
      }
    }
  });

  it('merges in passes when there are more runs than the fan-in, still stably', () => {
    const random = prng(21);
    // About one record per run: thousands of runs.
    const records: Row[] = Array.from({ length: 2500 }, (_, at) => ({ key: Math.floor(random() * 50), name: 'x'.repeat(200), at }));
    const { got, want, stats } = sortBoth(records, byKey, 256);
    expect(stats.spilledRuns).to.be.greaterThan(2000);
    expect(stats.mergePasses).to.be.greaterThan(0);
    expect(got.map((r) => r.at)).to.deep.equal(want.map((r) => r.at));
    expect(got).to.deep.equal(want);
  });

  it('keeps ties in order across a multi-pass merge when every key is equal', () => {
    const records = Array.from({ length: FAN_IN * 40 }, (_, at) => ({ key: 0, name: '', at }));
    const { got, stats } = sortBoth(records, byKey, 64);
    expect(stats.mergePasses).to.be.greaterThan(0);
    expect(got.map((r) => r.at)).to.deep.equal(records.map((r) => r.at));
  });

  it('carries every msgpack value type through a spill', () => {
    const records = Array.from({ length: 300 }, (_, i) => ({
      key: i % 7,
      at: i,
      values: [null, true, 'text', -1.5, 2 ** 40, 123456789012345678n, { nested: [i] }, new Uint8Array([i & 255, 1])],
    }));
    const { got, want, stats } = sortBoth(records, (a, b) => a.key - b.key, 2048);
    expect(stats.spilledRuns).to.be.greaterThan(1);
    expect(got.length).to.equal(want.length);
    for (let i = 0; i < got.length; i++) {
      expect(got[i]!.at).to.equal(want[i]!.at);
      expect(got[i]!.values.slice(0, 7)).to.deep.equal(want[i]!.values.slice(0, 7));
      expect(Array.from(got[i]!.values[7] as Uint8Array)).to.deep.equal(Array.from(want[i]!.values[7] as Uint8Array));
    }
  });

  it('can be pulled a few records at a time, with other spill files written in between', () => {
    const random = prng(31);
    const records = Array.from({ length: 5000 }, () => Math.floor(random() * 1e6));
    const a = sorter(byNumber, 4096);
    for (const r of records) a.add(r);
    const iterator = a.sorted();
    const got: number[] = [];
    const other = sorter(byNumber, 4096);
    for (;;) {
      const pulled: number[] = [];
      for (let r = iterator.next(); ; r = iterator.next()) {
        if (r.done) break;
        pulled.push(r.value);
        if (pulled.length === 7) break;
      }
      got.push(...pulled);
      // Another sorter spilling to the same directory in between changes nothing.
      other.add(pulled.length);
      if (pulled.length < 7) break;
    }
    expect(got).to.deep.equal(records.slice().sort(byNumber));
    expect(iterator.next().done).to.equal(true);
  });

  it('does no IO when nothing spilled', () => {
    const { got, stats } = sortBoth([3, 1, 2], byNumber, 1 << 20);
    expect(got).to.deep.equal([1, 2, 3]);
    expect(stats).to.deep.equal({ records: 3, spilledRuns: 0, spilledBytes: 0, mergePasses: 0 });
    expect(() => readdirSync(directory)).to.throw(/ENOENT/);
  });

  it('removes every file on close(), also mid-iteration, and twice', () => {
    const random = prng(41);
    const s = sorter(byNumber, 1024);
    for (let i = 0; i < 60_000; i++) s.add(random());
    expect(readdirSync(directory).length).to.be.greaterThan(FAN_IN);
    const iterator = s.sorted();
    for (let i = 0; i < 100; i++) iterator.next();
    expect(s.stats.mergePasses).to.be.greaterThan(0);
    expect(readdirSync(directory).length).to.be.within(1, FAN_IN);
    s.close();
    expect(filesIn(directory), 'no file left, and the directory it made gone').to.deep.equal([]);
    expect(() => iterator.next()).to.throw(/after close/);
    s.close();
  });

  it('removes its files once read to the end', () => {
    const { external } = sortBoth(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 3000), byNumber, 1024);
    expect(external.stats.spilledRuns).to.be.greaterThan(1);
    expect(filesIn(directory), 'no file left, and the directory it made gone').to.deep.equal([]);
  });

  it('refuses add() after sorted(), and a second sorted()', () => {
    const s = sorter(byNumber, 1024);
    s.add(1);
    s.sorted();
    expect(() => s.add(2)).to.throw(Error, /add\(\) after sorted\(\)/);
    expect(() => s.sorted()).to.throw(Error, /sorted\(\) after sorted\(\)/);
  });

  it('lets a throwing compare propagate, from a spill and from the merge, and still cleans up', () => {
    const boom = new Error('compare broke');
    let calls = 0;
    const limit = { value: Infinity };
    const s = sorter<number>((a, b) => { if (++calls > limit.value) throw boom; return a - b; }, 1024);
    for (let i = 0; i < 2000; i++) s.add(i % 13);
    limit.value = calls + 10;
    expect(() => { for (let i = 0; i < 2000; i++) s.add(i); }).to.throw(boom);
    expect(() => s.add(1)).to.throw(/earlier failure/);
    s.close();
    expect(filesIn(directory), 'no file left, and the directory it made gone').to.deep.equal([]);

    const t = sorter<number>((a, b) => { if (++calls > limit.value) throw boom; return a - b; }, 1024);
    limit.value = Infinity;
    for (let i = 0; i < 2000; i++) t.add(i % 13);
    const iterator = t.sorted();
    iterator.next();
    limit.value = calls + 5;
    expect(() => { for (let i = 0; i < 100; i++) iterator.next(); }).to.throw(boom);
    expect(() => iterator.next()).to.throw(/earlier failure/);
    t.close();
    expect(filesIn(directory), 'no file left, and the directory it made gone').to.deep.equal([]);
  });

  it('names the directory when it cannot spill there', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a directory');
    const s = new ExternalSorter<number>({ compare: byNumber, memoryBytes: 64, directory: join(file, 'spill') });
    expect(() => { for (let i = 0; i < 100; i++) s.add(i); }).to.throw(Error, /cannot create a spill file in .*a-file\/spill \(ENOTDIR\)/);
    s.close();
    s.close();
  });

  it('holds roughly its budget, not the data set, while sorting a million records', function () {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const count = 1_000_000;
    const budget = 4 * 1024 * 1024;
    const random = prng(51);
    const make = (i: number) => ({ k: Math.floor(random() * 1e9), i });
    const heap = () => { gc(); return process.memoryUsage().heapUsed; };

    // The control: the same records all held at once.
    const base = heap();
    const all = Array.from({ length: count }, (_, i) => make(i));
    const held = heap() - base;
    all.length = 0;

    const start = heap();
    let peak = 0;
    const s = sorter<{ k: number; i: number }>((a, b) => a.k - b.k, budget);
    for (let i = 0; i < count; i++) {
      s.add(make(i));
      if (i % 100_000 === 99_999) peak = Math.max(peak, heap() - start);
    }
    const iterator = s.sorted();
    let previous = -Infinity;
    let n = 0;
    for (let r = iterator.next(); !r.done; r = iterator.next()) {
      expect(r.value.k >= previous).to.equal(true);
      previous = r.value.k;
      if (++n % 100_000 === 0) peak = Math.max(peak, heap() - start);
    }
    expect(n).to.equal(count);
    expect(s.stats.spilledRuns).to.be.greaterThan(5);
    // The live heap stays near the budget (2× plus slack); holding everything takes ~10× more.
    expect(peak, `peak ${peak} held ${held}`).to.be.below(2 * budget + 4 * 1024 * 1024);
    expect(peak).to.be.below(held / 4);
  });
});
