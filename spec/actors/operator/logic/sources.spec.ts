import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '../../../../lib/codec/index.ts';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { splitsFor } from '../../../../lib/state/index.ts';
import { elementsSource, generatorSource, textFileSource, type SplitSource } from '../../../../actors/operator/logic/sources.ts';
import type { OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { prng } from '../../../helpers/random.ts';
import { range } from '../../../helpers/nats.ts';

/** As many splits as key groups, by default. */
const S = 128;

/** The splits of one subtask, as the operator instance builds them. */
const source = (subtask: number, parallelism: number, splitCount = S): SplitSource =>
  ({ splits: splitsFor(subtask, parallelism, splitCount), splitCount });

/** Parallelisms to try with `splitCount` splits: 1..7, or up to the split count. */
const parallelisms = (splitCount: number): number[] => range(Math.min(7, splitCount)).map((i) => i + 1);

/** Operator state goes to checkpoint storage and back as msgpack: numeric keys come back as strings. */
const viaWire = (state: unknown): unknown => decode(encode(state));

/** Calls produce once with `max`, checking the bound; returns whether it said done (a number, for a paced source, is not done). */
function produce(logic: OperatorLogic, max: number, out: unknown[]): boolean {
  let emitted = 0;
  const done = logic.produce!({ emit: (r) => { out.push(r); emitted++; } }, max);
  if (emitted > max) throw new Error(`produce(out, ${max}) emitted ${emitted}`);
  return done === true;
}

/** Runs a source to exhaustion with a random `max` per call; returns what it emitted. */
function drain(logic: OperatorLogic, random: () => number, maxMax = 50): unknown[] {
  const out: unknown[] = [];
  for (let calls = 0; ; calls++) {
    if (calls > 1_000_000) throw new Error('the source never finished');
    if (produce(logic, 1 + Math.floor(random() * maxMax), out)) break;
  }
  return out;
}

/** Up to `calls` produce calls with a random `max`, stopping early when done. */
function some(logic: OperatorLogic, random: () => number, calls: number, maxMax = 7): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < calls; i++) if (produce(logic, 1 + Math.floor(random() * maxMax), out)) break;
  return out;
}

/**
 * The failover of a source vertex: `from` subtasks run a while, snapshot, run on a while
 * (what they emit then is lost with the failure), and `to` fresh subtasks each restore the
 * states of all old subtasks and run to the end. Returns what the job saw: the records
 * emitted up to the checkpoint, then those emitted after the restore.
 */
function failover(make: (source: SplitSource) => OperatorLogic, from: number, to: number, splitCount: number, random: () => number,
  calls: () => number): { before: unknown[]; after: unknown[] } {
  const old = range(from).map((i) => make(source(i, from, splitCount)));
  const before = old.flatMap((logic) => some(logic, random, calls()));
  const states = old.map((logic) => viaWire(logic.snapshotState!(1)));
  for (const logic of old) {
    some(logic, random, calls());
    logic.close?.();
  }
  const restored = range(to).map((i) => make(source(i, to, splitCount)));
  for (const logic of restored) logic.restoreState!(states);
  const after = restored.flatMap((logic) => {
    try {
      return drain(logic, random, 13);
    } finally {
      logic.close?.();
    }
  });
  return { before, after };
}

/** Rescalings to try: the same parallelism, up, down. */
const RESCALES: [number, number][] = [[1, 1], [2, 2], [3, 3], [2, 4], [2, 1], [3, 5], [5, 3], [4, 2], [1, 7], [7, 1]];
const SMALL_RESCALES: [number, number][] = [[2, 2], [2, 4], [2, 1], [3, 4], [4, 3], [4, 1]];

/** Sorted copies, to compare multisets. */
const sorted = (values: unknown[]): unknown[] => [...values].sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));

const PIECES = ['word', 'é', '日本', '🙂', 'a\rb', ' ', '\t', 'x', 'naïve', 'ß', 'Ω', '0'];

/** A random line (never ending in '\r', which is part of a terminator here); one in twenty is longer than a read chunk if `long`. */
function randomLine(random: () => number, long: boolean): string {
  const roll = random();
  if (roll < 0.15) return '';
  if (long && roll < 0.2) {
    // Longer than the 64 KB read chunk, with multi-byte characters straddling chunk edges.
    const length = 66_000 + Math.floor(random() * 30_000);
    let line = '';
    while (line.length < length) line += PIECES[Math.floor(random() * PIECES.length)]!.replace('\r', '');
    return line;
  }
  const words = 1 + Math.floor(random() * 12);
  return range(words).map(() => PIECES[Math.floor(random() * PIECES.length)]!).join(' ');
}

interface TextFile { name: string; content: string; lines: string[] }

/**
 * Lines with random terminators ('\n' or '\r\n'); the last one maybe without any. `numbered`
 * makes every line distinct; `long` puts in lines longer than the 64 KB read chunk.
 */
function randomFile(seed: number, { numbered = false, long = true, lines: most = 60 } = {}): TextFile {
  const random = prng(seed);
  const count = Math.floor(random() * most);
  const lines = range(count).map((i) => (numbered ? `${i}:${randomLine(random, long)}` : randomLine(random, long)));
  let content = '';
  lines.forEach((line, i) => {
    const last = i === lines.length - 1;
    const bare = last && line !== '' && random() < 0.5;
    content += line + (bare ? '' : random() < 0.3 ? '\r\n' : '\n');
  });
  return { name: `random-${numbered ? 'numbered-' : ''}${long ? 'long-' : ''}${seed}.txt`, content, lines };
}

const FIXED: TextFile[] = [
  { name: 'empty.txt', content: '', lines: [] },
  { name: 'one-newline.txt', content: '\n', lines: [''] },
  { name: 'blank-lines.txt', content: '\n\n\n\n\n', lines: ['', '', '', '', ''] },
  { name: 'crlf-blank-lines.txt', content: '\r\n\r\n\r\n', lines: ['', '', ''] },
  { name: 'no-final-newline.txt', content: 'a\nb', lines: ['a', 'b'] },
  { name: 'one-char.txt', content: 'z', lines: ['z'] },
  { name: 'crlf.txt', content: 'one\r\ntwo\r\nthree', lines: ['one', 'two', 'three'] },
  { name: 'final-crlf.txt', content: 'one\r\ntwo\r\n', lines: ['one', 'two'] },
  { name: 'multibyte.txt', content: 'é\n日本\n🙂\n🙂🙂🙂\né日本🙂', lines: ['é', '日本', '🙂', '🙂🙂🙂', 'é日本🙂'] },
  { name: 'lone-cr.txt', content: 'a\rb\nc\r\r\n', lines: ['a\rb', 'c\r'] },
  {
    name: 'long-lines.txt',
    content: `${'é'.repeat(40_000)}\n${'x'.repeat(65_536)}\n${'🙂'.repeat(30_000)}\r\n\n${'日本'.repeat(25_000)}`,
    lines: ['é'.repeat(40_000), 'x'.repeat(65_536), '🙂'.repeat(30_000), '', '日本'.repeat(25_000)],
  },
  {
    name: 'many-short-lines.txt',
    content: range(700).map((i) => (i % 5 === 0 ? '' : `${i} ${['', 'é', '日本', '🙂'][i % 4]!}`)).join('\r\n'),
    lines: range(700).map((i) => (i % 5 === 0 ? '' : `${i} ${['', 'é', '日本', '🙂'][i % 4]!}`)),
  },
];

describe('sources', function () {
  // Property tests over many files and rescalings: a slow shared machine may take seconds (nothing here is timed).
  this.timeout(30_000);

  describe('elementsSource', () => {
    it('emits every element exactly once over all subtasks, a subtask taking its splits in turn, so in ascending order (S = 128 at p = 1..7, S = 4 at p = 1..4)', () => {
      const random = prng(3);
      for (const splitCount of [S, 4]) {
        for (const count of [0, 1, 2, 5, 127, 128, 129, 300, 1001]) {
          const elements = range(count).map((i) => ({ i }));
          for (const p of parallelisms(splitCount)) {
            const outputs = range(p).map((subtask) => drain(elementsSource(elements, source(subtask, p, splitCount)), random, 13));
            outputs.forEach((output, subtask) => {
              // Split s holds the elements s, s + S, s + 2S, …; a subtask's splits are a contiguous range.
              const own = new Set(splitsFor(subtask, p, splitCount));
              const expected = elements.filter((_, i) => own.has(i % splitCount));
              expect(output, `S ${splitCount} count ${count} p ${p} subtask ${subtask}`).to.deep.equal(expected);
            });
            const all = outputs.flat();
            expect(all).to.have.length(count);
            expect(new Set(all).size, 'the same objects, each once').to.equal(count);
          }
        }
      }
    });

    it('keeps undefined, null and duplicate elements', () => {
      const elements = [null, undefined, 1, 1, 'a', 'a'];
      const all = range(2).flatMap((subtask) => drain(elementsSource(elements, source(subtask, 2)), prng(1)));
      expect(all).to.have.deep.members(elements);
      expect(all).to.have.length(6);
    });

    it('emits nothing and is not done when asked for at most 0 records', () => {
      for (const logic of [elementsSource(range(10), source(0, 1, 4)), generatorSource(10, undefined, source(0, 1, 4))]) {
        const out: unknown[] = [];
        expect(logic.produce!({ emit: (r) => out.push(r) }, 0)).to.equal(false);
        expect(out).to.be.empty;
        expect(drain(logic, prng(1))).to.have.length(10);
      }
    });

    it('never emits more than max per call, and stays done once done', () => {
      // Four splits of ten elements: 0 4 8 | 1 5 9 | 2 6 | 3 7, taken in turn.
      const logic = elementsSource(range(10), source(0, 1, 4));
      const out: unknown[] = [];
      expect(produce(logic, 3, out)).to.equal(false);
      expect(out).to.deep.equal([0, 1, 2]);
      expect(produce(logic, 4, out)).to.equal(false);
      expect(out).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
      let done = false;
      for (let calls = 0; !done && calls < 3; calls++) done = produce(logic, 10, out);
      expect(done).to.equal(true);
      expect(out).to.deep.equal(range(10));
      expect(produce(logic, 10, out)).to.equal(true);
      expect(out).to.have.length(10);
    });

    it('a subtask with no elements in its splits is done at once', () => {
      const logic = elementsSource(range(3), source(5, 7));
      const out: unknown[] = [];
      expect(produce(logic, 1, out)).to.equal(true);
      expect(out).to.be.empty;
    });

    for (const [splitCount, rescales] of [[S, RESCALES], [4, SMALL_RESCALES]] as const) {
      it(`after a snapshot and a restore (S = ${splitCount}; ${rescales.map(([a, b]) => `${a} → ${b}`).join(', ')}), emits every element exactly once`, () => {
        let restoredAfterProgress = 0;
        for (let seed = 1; seed <= 30; seed++) {
          const random = prng(seed);
          const count = [0, 1, 7, 128, 129, 500, 2000][seed % 7]!;
          const elements = range(count).map((i) => ({ i }));
          for (const [from, to] of rescales) {
            const { before, after } = failover((src) => elementsSource(elements, src), from, to, splitCount, random, () => Math.floor(random() * 40));
            const all = [...before, ...after];
            const where = `seed ${seed} count ${count} ${from} → ${to}`;
            expect(all, where).to.have.length(count);
            expect(new Set(all).size, `${where}: each element once`).to.equal(count);
            if (before.length > 0 && after.length > 0) restoredAfterProgress++;
          }
        }
        expect(restoredAfterProgress, 'snapshots taken mid-way').to.be.greaterThan(50);
      });
    }

    it('restores a restored source: checkpoints taken after a restore rescale again (2 → 5 → 3)', () => {
      const random = prng(77);
      const elements = range(3000).map((i) => ({ i }));
      const make = (src: SplitSource): OperatorLogic => elementsSource(elements, src);
      const first = range(2).map((i) => make(source(i, 2)));
      const emitted = first.flatMap((logic) => some(logic, random, 50));
      const states1 = first.map((logic) => viaWire(logic.snapshotState!(1)));
      const second = range(5).map((i) => make(source(i, 5)));
      for (const logic of second) logic.restoreState!(states1);
      emitted.push(...second.flatMap((logic) => some(logic, random, 30)));
      const states2 = second.map((logic) => viaWire(logic.snapshotState!(2)));
      second.forEach((logic) => some(logic, random, 10)); // lost with the second failure
      const third = range(3).map((i) => make(source(i, 3)));
      for (const logic of third) logic.restoreState!(states2);
      emitted.push(...third.flatMap((logic) => drain(logic, random)));
      expect(emitted).to.have.length(3000);
      expect(new Set(emitted).size).to.equal(3000);
    });

    it('snapshots plain data that later progress does not change', () => {
      const logic = elementsSource(range(1000), source(0, 2));
      some(logic, prng(4), 5);
      const state = logic.snapshotState!(1);
      const copy = JSON.stringify(state);
      some(logic, prng(5), 20);
      expect(JSON.stringify(state)).to.equal(copy);
    });

    it('starts from the beginning when restored from no state, and emits nothing when restored after the end', () => {
      const elements = range(300);
      const fresh = elementsSource(elements, source(0, 1));
      fresh.restoreState!([]);
      expect(drain(fresh, prng(1))).to.have.length(300);

      const done = range(2).map((i) => elementsSource(elements, source(i, 2)));
      done.forEach((logic) => drain(logic, prng(2)));
      const states = done.map((logic) => viaWire(logic.snapshotState!(9)));
      const restored = range(3).map((i) => elementsSource(elements, source(i, 3)));
      restored.forEach((logic) => logic.restoreState!(states));
      expect(restored.flatMap((logic) => drain(logic, prng(3)))).to.be.empty;
    });
  });

  describe('generatorSource', () => {
    it('emits the indexes [0, count) exactly once over all subtasks, each subtask its own in ascending order', () => {
      const random = prng(5);
      for (const splitCount of [S, 4]) {
        for (const count of [0, 1, 3, 7, 8, 500]) {
          for (const p of parallelisms(splitCount)) {
            const outputs = range(p).map((subtask) => drain(generatorSource(count, undefined, source(subtask, p, splitCount)), random, 9) as number[]);
            outputs.forEach((output, subtask) => {
              const own = new Set(splitsFor(subtask, p, splitCount));
              const expected = range(count).filter((i) => own.has(i % splitCount));
              expect(output).to.deep.equal(expected);
            });
            expect(outputs.flat().sort((a, b) => a - b)).to.deep.equal(range(count));
          }
        }
      }
    });

    it('emits fn(index) when given a function, calling it once per index, across a restore at another parallelism too', () => {
      const calls: number[] = [];
      const fn = (...args: unknown[]): unknown => { calls.push(args[0] as number); return `item-${args[0] as number}`; };
      const random = prng(2);
      for (const [from, to] of [[3, 3], [2, 4], [3, 1]] as const) {
        calls.length = 0;
        const old = range(from).map((i) => generatorSource(200, fn, source(i, from)));
        const before = old.flatMap((logic) => some(logic, random, 10));
        const states = old.map((logic) => viaWire(logic.snapshotState!(1)));
        const restored = range(to).map((i) => generatorSource(200, fn, source(i, to)));
        restored.forEach((logic) => logic.restoreState!(states));
        const after = restored.flatMap((logic) => drain(logic, random, 4));
        expect(before.length, `${from} → ${to}`).to.be.greaterThan(0);
        expect(sorted([...before, ...after])).to.deep.equal(sorted(range(200).map((i) => `item-${i}`)));
        expect([...calls].sort((a, b) => a - b), 'fn is not called again for what was emitted before the checkpoint').to.deep.equal(range(200));
      }
    });

    it('a paced generator emits the same indexes, never more than max per call, and asks to wait rather than emit ahead of its rate', () => {
      // A rate so high that the test waits for nothing; the pace itself reads the wall clock, so only counts are checked.
      const logic = generatorSource(300, undefined, source(0, 1), 1e9);
      const out: unknown[] = [];
      for (let calls = 0; ; calls++) {
        if (calls > 1_000_000) expect.fail('the paced source never finished');
        let emitted = 0;
        const result = logic.produce!({ emit: (r) => { out.push(r); emitted++; } }, 7);
        expect(emitted).to.be.at.most(7);
        if (typeof result === 'number') {
          expect(emitted, 'a wait comes with no records').to.equal(0);
          expect(result).to.be.at.least(1);
        } else if (result) break;
      }
      expect((out as number[]).sort((a, b) => a - b)).to.deep.equal(range(300));

      // One record per 1000 s: none is due yet, so it says how long to wait for the next.
      const slow = generatorSource(10, undefined, source(0, 1), 0.001);
      const none: unknown[] = [];
      expect(slow.produce!({ emit: (r) => none.push(r) }, 5)).to.equal(1_000_000);
      expect(none).to.be.empty;
    });

    for (const [splitCount, rescales] of [[S, RESCALES], [4, SMALL_RESCALES]] as const) {
      it(`after a snapshot and a restore (S = ${splitCount}), emits every index exactly once`, () => {
        for (let seed = 1; seed <= 20; seed++) {
          const random = prng(100 + seed);
          const count = [0, 5, 128, 1000][seed % 4]!;
          for (const [from, to] of rescales) {
            const { before, after } = failover((src) => generatorSource(count, undefined, src), from, to, splitCount, random, () => Math.floor(random() * 30));
            expect(([...before, ...after] as number[]).sort((a, b) => a - b), `seed ${seed} ${from} → ${to}`).to.deep.equal(range(count));
          }
        }
      });
    }
  });

  describe('textFileSource', () => {
    let dir: string;
    before(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-sources-')); });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const write = (file: TextFile): string => {
      const path = join(dir, file.name);
      writeFileSync(path, file.content);
      return path;
    };

    /** Every subtask's lines, in subtask order. */
    function readAll(path: string, parallelism: number, splitCount: number, random: () => number): string[][] {
      return range(parallelism).map((subtask) => {
        const logic = textFileSource(path, source(subtask, parallelism, splitCount));
        try {
          return drain(logic, random) as string[];
        } finally {
          logic.close?.();
        }
      });
    }

    /** Splits are contiguous byte ranges in order, so the subtasks' lines in subtask order give the file back. */
    function expectWholeFile(file: TextFile, path: string, p: number, splitCount: number, random: () => number): void {
      const got = readAll(path, p, splitCount, random).flat();
      if (got.length !== file.lines.length || got.some((l, i) => l !== file.lines[i])) {
        const first = got.findIndex((l, i) => l !== file.lines[i]);
        expect.fail(`${file.name} S ${splitCount} parallelism ${p}: ${got.length} lines for ${file.lines.length}; first difference at line ${first}`);
      }
    }

    for (const file of FIXED) {
      it(`reads every line of ${file.name} exactly once, in order (S = 128 at p = 1..7, S = 4 at p = 1..4)`, () => {
        const random = prng(file.name.length);
        const path = write(file);
        for (const splitCount of [S, 4]) for (const p of parallelisms(splitCount)) expectWholeFile(file, path, p, splitCount, random);
      });
    }

    it('reads every line exactly once, in order, for random files (S = 128 at p = 1..7, S = 4 at p = 1..4)', () => {
      let lines = 0;
      for (let seed = 1; seed <= 40; seed++) {
        const file = randomFile(seed, { long: false, lines: 200 });
        lines += file.lines.length;
        const path = write(file);
        const random = prng(1000 + seed);
        for (const splitCount of [S, 4]) for (const p of parallelisms(splitCount)) expectWholeFile(file, path, p, splitCount, random);
      }
      expect(lines).to.be.greaterThan(3000);
    });

    it('reads every line exactly once, in order, for random files with lines longer than the read chunk', () => {
      let longLines = 0;
      for (let seed = 1; seed <= 3; seed++) {
        const file = randomFile(seed);
        longLines += file.lines.filter((l) => l.length > 64 * 1024).length;
        const path = write(file);
        const random = prng(1000 + seed);
        for (const p of [1, 7]) expectWholeFile(file, path, p, S, random);
        for (const p of parallelisms(4)) expectWholeFile(file, path, p, 4, random);
      }
      expect(longLines, 'the random files include lines longer than a chunk').to.be.greaterThan(3);
    });

    it('reads every line exactly once whatever the byte offsets the splits start at (small files, many split counts)', () => {
      // Every prefix of a file with all the awkward bytes: split starts land on every offset.
      const full = 'a\r\n\né日\n🙂\r\nbc\n\n本🙂\r\r\nz';
      for (let length = 0; length <= Buffer.byteLength(full); length++) {
        const bytes = Buffer.from(full).subarray(0, length);
        const text = bytes.toString('utf8');
        // Cut mid-character would leave a replacement character; only whole characters here.
        if (Buffer.byteLength(text) !== length) continue;
        const lines = text === '' ? [] : text.split('\n').map((l) => l.replace(/\r$/, ''));
        if (text.endsWith('\n')) lines.pop();
        const file = { name: `prefix-${length}.txt`, content: text, lines };
        const path = write(file);
        for (const splitCount of [1, 2, 3, 5, 8, 13, 37, S]) {
          for (const p of parallelisms(splitCount)) expectWholeFile(file, path, p, splitCount, prng(length));
        }
      }
    });

    for (const [splitCount, rescales] of [[S, RESCALES], [4, SMALL_RESCALES]] as const) {
      it(`after a snapshot and a restore (S = ${splitCount}; ${rescales.map(([a, b]) => `${a} → ${b}`).join(', ')}), reads every line exactly once`, () => {
        let midway = 0;
        const files = [...FIXED, ...range(8).map((i) => randomFile(500 + i, { numbered: true, long: false, lines: 300 }))];
        for (const [n, file] of files.entries()) {
          const path = write(file);
          const random = prng(n + splitCount);
          // Lines longer than a split are slow to skip at 128 splits: fewer rounds for that file.
          const long = splitCount === S && file.lines.some((l) => l.length > 64 * 1024);
          const pairs: readonly (readonly [number, number])[] = long ? [[2, 1], [3, 5]] : rescales;
          for (const [from, to] of pairs) {
            for (let attempt = 0; attempt < (long ? 1 : 2); attempt++) {
              const { before, after } = failover((src) => textFileSource(path, src), from, to, splitCount, random, () => Math.floor(random() * 12));
              const where = `${file.name} ${from} → ${to} (attempt ${attempt})`;
              const got = [...before, ...after] as string[];
              if (got.length !== file.lines.length) expect.fail(`${where}: ${got.length} lines for ${file.lines.length} (${before.length} before the checkpoint)`);
              // Compared as multisets (lines repeat); numbered files have distinct lines, so this is exact.
              expect(sorted(got).join('\n') === sorted(file.lines).join('\n'), `${where}: other lines than the file's`).to.equal(true);
              if (before.length > 0 && after.length > 0) midway++;
            }
          }
        }
        expect(midway, 'snapshots taken mid-way').to.be.greaterThan(60);
      });
    }

    it('restores a split mid-way through lines longer than the read chunk, and after lines it skipped at its start', () => {
      const file = FIXED.find((f) => f.name === 'long-lines.txt')!;
      const path = write(file);
      for (const taken of range(file.lines.length + 1)) {
        const logic = textFileSource(path, source(0, 1));
        const before: unknown[] = [];
        while (before.length < taken) produce(logic, 1, before);
        const state = viaWire(logic.snapshotState!(1));
        logic.close?.();
        const restored = textFileSource(path, source(0, 1));
        restored.restoreState!([state]);
        const after = drain(restored, prng(taken), 1);
        restored.close?.();
        expect([...before, ...after], `after ${taken} lines`).to.deep.equal(file.lines);
      }
    });

    it('never emits more than max per call', () => {
      const path = join(dir, 'max.txt');
      writeFileSync(path, range(1000).map((i) => `line ${i}`).join('\n'));
      for (const max of [0, 1, 2, 7]) {
        const logic = textFileSource(path, source(0, 1));
        let calls = 0;
        const out: unknown[] = [];
        for (;;) {
          calls++;
          if (produce(logic, max, out) || (max === 0 && calls > 10)) break;
        }
        logic.close?.();
        expect(out).to.have.length(max === 0 ? 0 : 1000);
      }
    });

    it('keeps answering done after the end, and close() can be called again', () => {
      const path = join(dir, 'done.txt');
      writeFileSync(path, 'a\nb\n');
      const logic = textFileSource(path, source(0, 1));
      expect(drain(logic, prng(1))).to.deep.equal(['a', 'b']);
      const late: unknown[] = [];
      expect(produce(logic, 10, late)).to.equal(true);
      expect(late).to.be.empty;
      logic.close!();
      logic.close!();
    });

    it('fails clearly on a missing file, naming the path', () => {
      const path = join(dir, 'no', 'such', 'input.txt');
      expect(() => textFileSource(path, source(0, 1))).to.throw(CloudflinkError, path);
      try {
        textFileSource(path, source(1, 3));
        expect.fail('expected an error');
      } catch (error) {
        expect(error).to.be.instanceOf(CloudflinkError);
        expect((error as CloudflinkError).code).to.equal('TASK_FAILED');
        expect((error as Error).message).to.match(/cannot read the input file/).and.to.include(path);
      }
    });
  });
});
