import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { elementsSource, generatorSource, textFileSource } from '../../../../actors/operator/logic/sources.ts';
import type { OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { prng } from '../../../helpers/random.ts';
import { range } from '../../../helpers/nats.ts';

/**
 * Runs a source to exhaustion with a random `max` per call, checking the bound on every
 * call; returns what it emitted.
 */
function drain(logic: OperatorLogic, random: () => number, maxMax = 50): unknown[] {
  const out: unknown[] = [];
  for (let calls = 0; ; calls++) {
    if (calls > 1_000_000) throw new Error('the source never finished');
    const max = 1 + Math.floor(random() * maxMax);
    let emitted = 0;
    const done = logic.produce!({ emit: (r) => { out.push(r); emitted++; } }, max);
    if (emitted > max) throw new Error(`produce(out, ${max}) emitted ${emitted}`);
    if (done) break;
  }
  return out;
}

const PIECES = ['word', 'é', '日本', '🙂', 'a\rb', ' ', '\t', 'x', 'naïve', 'ß', 'Ω', '0'];

/** A random line (never ending in '\r', which is part of a terminator here). */
function randomLine(random: () => number): string {
  const roll = random();
  if (roll < 0.15) return '';
  if (roll < 0.2) {
    // Longer than the 64 KB read chunk, with multi-byte characters straddling chunk edges.
    const length = 70_000 + Math.floor(random() * 140_000);
    let line = '';
    while (line.length < length) line += PIECES[Math.floor(random() * PIECES.length)]!.replace('\r', '');
    return line;
  }
  const words = 1 + Math.floor(random() * 12);
  return range(words).map(() => PIECES[Math.floor(random() * PIECES.length)]!).join(' ');
}

interface TextFile { name: string; content: string; lines: string[] }

/** Lines with random terminators ('\n' or '\r\n'); the last one maybe without any. */
function randomFile(seed: number): TextFile {
  const random = prng(seed);
  const count = Math.floor(random() * 60);
  const lines = range(count).map(() => randomLine(random));
  let content = '';
  lines.forEach((line, i) => {
    const last = i === lines.length - 1;
    const bare = last && line !== '' && random() < 0.5;
    content += line + (bare ? '' : random() < 0.3 ? '\r\n' : '\n');
  });
  return { name: `random-${seed}.txt`, content, lines };
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
];

describe('sources', () => {
  describe('textFileSource', () => {
    let dir: string;
    before(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-sources-')); });
    after(() => rmSync(dir, { recursive: true, force: true }));

    function readSplits(file: TextFile, parallelism: number, random: () => number): string[][] {
      const path = join(dir, file.name);
      writeFileSync(path, file.content);
      return range(parallelism).map((subtask) => {
        const logic = textFileSource(path, subtask, parallelism);
        try {
          return drain(logic, random) as string[];
        } finally {
          logic.close?.();
        }
      });
    }

    for (const file of FIXED) {
      it(`reads every line of ${file.name} exactly once, in order, at parallelism 1..7`, () => {
        const random = prng(file.name.length);
        for (let p = 1; p <= 7; p++) {
          const splits = readSplits(file, p, random);
          expect(splits.flat(), `parallelism ${p}`).to.deep.equal(file.lines);
        }
      });
    }

    it('reads every line exactly once, in order within each split, for random files at parallelism 1..7', () => {
      let lines = 0;
      let longLines = 0;
      for (let seed = 1; seed <= 40; seed++) {
        const file = randomFile(seed);
        lines += file.lines.length;
        longLines += file.lines.filter((l) => l.length > 64 * 1024).length;
        const random = prng(1000 + seed);
        for (let p = 1; p <= 7; p++) {
          const splits = readSplits(file, p, random);
          // Splits are contiguous byte ranges, so in subtask order they give the file back.
          const got = splits.flat();
          if (got.length !== file.lines.length || got.some((l, i) => l !== file.lines[i])) {
            const first = got.findIndex((l, i) => l !== file.lines[i]);
            expect.fail(`seed ${seed} parallelism ${p}: ${got.length} lines for ${file.lines.length}; first difference at line ${first}`);
          }
        }
      }
      expect(longLines, 'the random files include lines longer than a chunk').to.be.greaterThan(3);
      expect(lines).to.be.greaterThan(500);
    });

    it('reads every line exactly once whatever the byte offsets the splits start at (small files, parallelism up to 7)', () => {
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
        for (let p = 1; p <= 7; p++) {
          expect(readSplits(file, p, prng(length)).flat(), `${JSON.stringify(text)} at parallelism ${p}`).to.deep.equal(lines);
        }
      }
    });

    it('never emits more than max per call', () => {
      const path = join(dir, 'max.txt');
      writeFileSync(path, range(1000).map((i) => `line ${i}`).join('\n'));
      for (const max of [0, 1, 2, 7]) {
        const logic = textFileSource(path, 0, 1);
        let calls = 0;
        const out: unknown[] = [];
        for (;;) {
          let emitted = 0;
          const done = logic.produce!({ emit: (r) => { out.push(r); emitted++; } }, max);
          expect(emitted).to.be.at.most(max);
          calls++;
          if (done || (max === 0 && calls > 10)) break;
        }
        logic.close?.();
        expect(out).to.have.length(max === 0 ? 0 : 1000);
      }
    });

    it('keeps answering done after the end, and close() can be called again', () => {
      const path = join(dir, 'done.txt');
      writeFileSync(path, 'a\nb\n');
      const logic = textFileSource(path, 0, 1);
      expect(drain(logic, prng(1))).to.deep.equal(['a', 'b']);
      const late: unknown[] = [];
      expect(logic.produce!({ emit: (r) => late.push(r) }, 10)).to.equal(true);
      expect(late).to.be.empty;
      logic.close!();
      logic.close!();
    });

    it('fails clearly on a missing file, naming the path', () => {
      const path = join(dir, 'no', 'such', 'input.txt');
      expect(() => textFileSource(path, 0, 1)).to.throw(CloudflinkError, path);
      try {
        textFileSource(path, 1, 3);
        expect.fail('expected an error');
      } catch (error) {
        expect(error).to.be.instanceOf(CloudflinkError);
        expect((error as CloudflinkError).code).to.equal('TASK_FAILED');
        expect((error as Error).message).to.match(/cannot read the input file/).and.to.include(path);
      }
    });
  });

  describe('elementsSource', () => {
    it('stripes the elements over subtasks: each produced exactly once, subtask i taking i, i + p, …', () => {
      const random = prng(3);
      for (const count of [0, 1, 2, 5, 6, 7, 100, 1001]) {
        const elements = range(count).map((i) => ({ i }));
        for (let p = 1; p <= 7; p++) {
          const splits = range(p).map((subtask) => drain(elementsSource(elements, subtask, p), random, 13));
          splits.forEach((split, subtask) => {
            expect(split, `count ${count} p ${p} subtask ${subtask}`).to.deep.equal(elements.filter((_, i) => i % p === subtask));
          });
          const all = splits.flat();
          expect(all).to.have.length(count);
          expect(new Set(all).size, 'the same objects, each once').to.equal(count);
        }
      }
    });

    it('keeps undefined, null and duplicate elements', () => {
      const elements = [null, undefined, 1, 1, 'a', 'a'];
      const all = range(2).flatMap((subtask) => drain(elementsSource(elements, subtask, 2), prng(1)));
      expect(all).to.have.deep.members(elements);
      expect(all).to.have.length(6);
    });

    it('never emits more than max per call, and emits nothing with max 0', () => {
      const logic = elementsSource(range(10), 0, 1);
      const out: unknown[] = [];
      expect(logic.produce!({ emit: (r) => out.push(r) }, 0)).to.equal(false);
      expect(out).to.be.empty;
      expect(logic.produce!({ emit: (r) => out.push(r) }, 3)).to.equal(false);
      expect(out).to.deep.equal([0, 1, 2]);
      expect(logic.produce!({ emit: (r) => out.push(r) }, 7)).to.equal(true);
      expect(out).to.deep.equal(range(10));
    });
  });

  describe('generatorSource', () => {
    it('emits the indexes [0, count) striped over subtasks, each exactly once', () => {
      const random = prng(5);
      for (const count of [0, 1, 3, 7, 8, 500]) {
        for (let p = 1; p <= 7; p++) {
          const splits = range(p).map((subtask) => drain(generatorSource(count, undefined, subtask, p), random, 9) as number[]);
          splits.forEach((split, subtask) => expect(split).to.deep.equal(range(count).filter((i) => i % p === subtask)));
          expect(splits.flat().sort((a, b) => a - b)).to.deep.equal(range(count));
        }
      }
    });

    it('emits fn(index) when given a function, calling it once per index', () => {
      const calls: number[] = [];
      const fn = (...args: unknown[]): unknown => { calls.push(args[0] as number); return `item-${args[0] as number}`; };
      const all = range(3).flatMap((subtask) => drain(generatorSource(20, fn, subtask, 3), prng(2), 4));
      expect([...all].sort()).to.deep.equal(range(20).map((i) => `item-${i}`).sort());
      expect([...calls].sort((a, b) => a - b)).to.deep.equal(range(20));
    });

    it('never emits more than max per call', () => {
      const logic = generatorSource(100, undefined, 1, 4);
      const out: unknown[] = [];
      expect(logic.produce!({ emit: (r) => out.push(r) }, 0)).to.equal(false);
      expect(out).to.be.empty;
      expect(logic.produce!({ emit: (r) => out.push(r) }, 5)).to.equal(false);
      expect(out).to.deep.equal([1, 5, 9, 13, 17]);
    });
  });
});
