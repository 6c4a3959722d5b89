import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '../../../../lib/codec/index.ts';
import type { CsvField } from '../../../../lib/descriptor/types.ts';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { splitsFor } from '../../../../lib/state/index.ts';
import {
  csvSource, directoryTextSource, jsonLinesSource, listInputFiles, parseCsvLine, type FileSourceOptions,
} from '../../../../actors/operator/logic/file-sources.ts';
import type { SplitSource } from '../../../../actors/operator/logic/sources.ts';
import type { OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { thrownBy } from '../../../helpers/logic.ts';
import { range } from '../../../helpers/nats.ts';
import { prng } from '../../../helpers/random.ts';

const S = 128;

const source = (subtask: number, parallelism: number, splitCount = S): SplitSource =>
  ({ splits: splitsFor(subtask, parallelism, splitCount), splitCount });

/** Operator state goes to checkpoint storage and back as msgpack: numeric keys come back as strings. */
const viaWire = (state: unknown): unknown => decode(encode(state));

function produce(logic: OperatorLogic, max: number, out: unknown[]): boolean {
  let emitted = 0;
  const done = logic.produce!({ emit: (r) => { out.push(r); emitted++; } }, max);
  if (emitted > max) throw new Error(`produce(out, ${max}) emitted ${emitted}`);
  return done === true;
}

function drain(logic: OperatorLogic, random: () => number, maxMax = 50): unknown[] {
  const out: unknown[] = [];
  try {
    for (let calls = 0; ; calls++) {
      if (calls > 1_000_000) throw new Error('the source never finished');
      if (produce(logic, 1 + Math.floor(random() * maxMax), out)) return out;
    }
  } finally {
    logic.close?.();
  }
}

function some(logic: OperatorLogic, random: () => number, calls: number, maxMax = 7): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < calls; i++) if (produce(logic, 1 + Math.floor(random() * maxMax), out)) break;
  return out;
}

/** Every subtask's records at `parallelism`, in subtask order. */
function readAll(make: (source: SplitSource) => OperatorLogic, parallelism: number, splitCount: number, random: () => number): unknown[][] {
  return range(parallelism).map((subtask) => drain(make(source(subtask, parallelism, splitCount)), random));
}

/**
 * `from` subtasks run a while and snapshot, run on (lost with the failure), and `to` fresh
 * subtasks restore all their states and run to the end: what the job saw before and after.
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
  return { before, after: restored.flatMap((logic) => drain(logic, random, 13)) };
}

const sortedStrings = (values: unknown[]): string[] => (values as string[]).slice().sort();

const PIECES = ['word', 'é', '日本', '🙂', ' ', '\t', 'x', 'naïve', 'ß', 'Ω', '0', ','];

/** Distinct lines (each names its file and number), some empty, with '\n' or '\r\n' ends; the last maybe without one. */
function randomText(name: string, random: () => number, most: number): { content: string; lines: string[] } {
  const lines = range(Math.floor(random() * most)).map((i) => {
    if (random() < 0.1) return '';
    const words = range(1 + Math.floor(random() * 10)).map(() => PIECES[Math.floor(random() * PIECES.length)]!);
    return `${name}#${i} ${words.join(' ')}`;
  });
  let content = '';
  lines.forEach((line, i) => {
    const bare = i === lines.length - 1 && line !== '' && random() < 0.5;
    content += line + (bare ? '' : random() < 0.3 ? '\r\n' : '\n');
  });
  return { content, lines };
}

/** The message of the CloudflinkError `action` throws, checking its code. */
function failure(action: () => unknown, code = 'UDF_FAILED'): string {
  const error = thrownBy(action);
  expect(error).to.be.instanceOf(CloudflinkError);
  expect((error as CloudflinkError).code).to.equal(code);
  return (error as Error).message;
}

/** Reads every subtask to the end; the message of the first failure. */
function failureReading(make: (source: SplitSource) => OperatorLogic, parallelism = 1, splitCount = S): string {
  return failure(() => readAll(make, parallelism, splitCount, prng(1)));
}

describe('file sources', function () {
  this.timeout(60_000);
  let dir: string;
  let n = 0;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-file-sources-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A fresh directory with these files (a name ending in '/' is a subdirectory). */
  const directory = (files: Record<string, string>): string => {
    const path = join(dir, `d${n++}`);
    mkdirSync(path);
    for (const [name, content] of Object.entries(files)) {
      if (name.endsWith('/')) mkdirSync(join(path, name));
      else writeFileSync(join(path, name), content);
    }
    return path;
  };
  const file = (content: string, name = `f${n++}.txt`): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  describe('the input files', () => {
    it('are the regular files of a directory sorted by name, without hidden ones, subdirectories or names starting with _ or .', () => {
      const path = directory({ 'b.csv': 'b', 'a.csv': 'a', 'c/': '', '.hidden': 'h', '_SUCCESS': '', '.part-0.inprogress': 'x', 'A.csv': 'A', '10': 'x', '9': 'y' });
      expect(listInputFiles(path, 'v').map((f) => f.path.slice(path.length + 1))).to.deep.equal(['10', '9', 'A.csv', 'a.csv', 'b.csv']);
      const lines = drain(directoryTextSource(path, source(0, 1), 'v'), prng(1));
      expect(lines).to.deep.equal(['x', 'y', 'A', 'a', 'b']);
    });

    it('is the file itself when the path is a file', () => {
      const path = file('one\ntwo\n');
      expect(listInputFiles(path, 'v')).to.deep.equal([{ path, size: 8 }]);
    });

    it('an empty directory, or one of empty files, is done at once', () => {
      for (const path of [directory({}), directory({ a: '', b: '', '_x': 'skipped' })]) {
        for (const subtask of range(3)) {
          const out: unknown[] = [];
          expect(produce(directoryTextSource(path, source(subtask, 3), 'v'), 10, out)).to.equal(true);
          expect(out).to.be.empty;
        }
      }
    });

    it('a missing path fails clearly, naming the path and the vertex', () => {
      const path = join(dir, 'no', 'such');
      const message = failure(() => directoryTextSource(path, source(0, 1), 'the-input'), 'TASK_FAILED');
      expect(message).to.include(path).and.to.include("'the-input'");
      expect(failure(() => csvSource({ operator: 'source.csv', path, fields: [{ name: 'a', type: 'string' }] }, source(0, 1), 'v'), 'TASK_FAILED')).to.include(path);
    });
  });

  describe('directoryTextSource', () => {
    it('reads every line of a file once, in order, whatever the range size and the parallelism (S = 128 and 4)', () => {
      let lines = 0;
      for (let seed = 1; seed <= 25; seed++) {
        const random = prng(seed);
        const text = randomText(`f${seed}`, random, 120);
        lines += text.lines.length;
        const path = file(text.content);
        for (const rangeBytes of [1, 7, 100, 1000, undefined]) {
          for (const [splitCount, p] of [[S, 1], [S, 3], [S, 7], [4, 1], [4, 2], [4, 4], [1, 1]]) {
            const got = readAll((src) => directoryTextSource(path, src, 'v', { rangeBytes }), p!, splitCount!, random);
            // At most as many ranges as splits here, or one subtask: then the subtasks' lines in order are the file.
            if (rangeBytes === undefined || Math.ceil(Buffer.byteLength(text.content) / rangeBytes) <= splitCount! || p === 1 && splitCount === 1) {
              expect(got.flat(), `seed ${seed} ranges of ${rangeBytes} S ${splitCount} p ${p}`).to.deep.equal(text.lines);
            } else {
              expect(sortedStrings(got.flat()), `seed ${seed} ranges of ${rangeBytes} S ${splitCount} p ${p}`).to.deep.equal(sortedStrings(text.lines));
            }
          }
        }
      }
      expect(lines).to.be.greaterThan(1000);
    });

    it('reads every line of a directory of many files exactly once across the subtasks, at parallelism 1 and 4', () => {
      const random = prng(7);
      const files: Record<string, string> = {};
      const expected: string[] = [];
      for (const i of range(40)) {
        const text = randomText(`part-${i}`, random, 80);
        files[`part-${String(i).padStart(3, '0')}`] = text.content;
        expected.push(...text.lines);
      }
      const path = directory(files);
      for (const rangeBytes of [50, 333, 4096, undefined]) {
        for (const splitCount of [S, 16, 4]) {
          for (const p of [1, 4]) {
            const got = readAll((src) => directoryTextSource(path, src, 'v', { rangeBytes }), p, splitCount, random);
            expect(sortedStrings(got.flat()), `ranges of ${rangeBytes} S ${splitCount} p ${p}`).to.deep.equal(sortedStrings(expected));
            if (p === 4 && splitCount >= 4) expect(got.filter((lines) => lines.length > 0).length, 'the work is shared').to.be.greaterThan(1);
          }
        }
      }
    });

    it('reads lines longer than the read chunk and than many ranges', () => {
      const lines = ['é'.repeat(70_000), 'short', '', 'x'.repeat(200_000), '🙂'.repeat(20_000)];
      const path = directory({ a: `${lines.join('\r\n')}\n`, b: lines.join('\n') });
      for (const rangeBytes of [1000, 65_536, undefined]) {
        for (const p of [1, 3]) {
          const got = readAll((src) => directoryTextSource(path, src, 'v', { rangeBytes }), p, 16, prng(p)).flat() as string[];
          expect(got.length).to.equal(10);
          expect(got.slice().sort()).to.deep.equal([...lines, ...lines].sort());
        }
      }
    });

    it('never emits more than max per call, and stays done once done', () => {
      const path = directory({ a: range(500).map((i) => `a${i}`).join('\n'), b: range(500).map((i) => `b${i}`).join('\n') });
      for (const max of [1, 2, 7]) {
        const logic = directoryTextSource(path, source(0, 1), 'v', { rangeBytes: 100 });
        const out: unknown[] = [];
        while (!produce(logic, max, out));
        expect(out).to.have.length(1000);
        expect(produce(logic, 5, out)).to.equal(true);
        expect(out).to.have.length(1000);
        logic.close!();
        logic.close!();
      }
    });

    it('after a snapshot and a restore (mid-file, mid-range, rescaled), reads every line exactly once', () => {
      const random = prng(11);
      const files: Record<string, string> = {};
      const expected: string[] = [];
      for (const i of range(12)) {
        const text = randomText(`r${i}`, random, 150);
        files[`r${i}`] = text.content;
        expected.push(...text.lines);
      }
      const path = directory(files);
      let midway = 0;
      for (const rangeBytes of [64, 500, 3000, undefined]) {
        for (const splitCount of [S, 8]) {
          for (const [from, to] of [[1, 1], [2, 2], [3, 3], [2, 4], [2, 1], [3, 5], [5, 3], [4, 2], [1, 7], [7, 1]]) {
            const { before, after } = failover((src) => directoryTextSource(path, src, 'v', { rangeBytes }), from!, to!, splitCount, random,
              () => Math.floor(random() * 60));
            expect(sortedStrings([...before, ...after]), `ranges of ${rangeBytes} S ${splitCount} ${from} → ${to}`).to.deep.equal(sortedStrings(expected));
            if (before.length > 0 && after.length > 0) midway++;
          }
        }
      }
      expect(midway, 'snapshots taken mid-way').to.be.greaterThan(60);
    });

    it('resumes exactly after every line of a file, also across a restore of a restored source (2 → 5 → 3)', () => {
      const text = randomText('exact', prng(3), 200);
      const path = directory({ a: text.content, b: text.content.toUpperCase() });
      const expected = [...text.lines, ...text.lines.map((l) => l.toUpperCase())];
      for (const taken of [0, 1, 5, 17, 100, expected.length - 1, expected.length]) {
        const logic = directoryTextSource(path, source(0, 1, 4), 'v', { rangeBytes: 256 });
        const before: unknown[] = [];
        while (before.length < taken) produce(logic, 1, before);
        const state = viaWire(logic.snapshotState!(1));
        logic.close!();
        const restored = directoryTextSource(path, source(0, 1, 4), 'v', { rangeBytes: 256 });
        restored.restoreState!([state]);
        expect(sortedStrings([...before, ...drain(restored, prng(taken), 3)]), `after ${taken} lines`).to.deep.equal(sortedStrings(expected));
      }

      const random = prng(9);
      const make = (src: SplitSource): OperatorLogic => directoryTextSource(path, src, 'v', { rangeBytes: 128 });
      const first = range(2).map((i) => make(source(i, 2, 16)));
      const emitted = first.flatMap((logic) => some(logic, random, 20));
      const states1 = first.map((logic) => viaWire(logic.snapshotState!(1)));
      const second = range(5).map((i) => make(source(i, 5, 16)));
      second.forEach((logic) => logic.restoreState!(states1));
      emitted.push(...second.flatMap((logic) => some(logic, random, 15)));
      const states2 = second.map((logic) => viaWire(logic.snapshotState!(2)));
      const third = range(3).map((i) => make(source(i, 3, 16)));
      third.forEach((logic) => logic.restoreState!(states2));
      emitted.push(...third.flatMap((logic) => drain(logic, random)));
      expect(sortedStrings(emitted)).to.deep.equal(sortedStrings(expected));
    });

    it('snapshots plain split → offset data, starts over from no state, and emits nothing restored after the end', () => {
      const path = directory({ a: 'one\ntwo\n', b: 'three\n' });
      const logic = directoryTextSource(path, source(0, 2, 4), 'v');
      expect(logic.snapshotState!(1)).to.deep.equal({ 0: 0, 1: 0 });
      some(logic, prng(1), 1, 1);
      const state = logic.snapshotState!(2) as Record<number, number>;
      expect(Object.keys(state)).to.deep.equal(['0', '1']);
      Object.values(state).forEach((p) => expect(p).to.be.a('number'));

      const fresh = directoryTextSource(path, source(0, 1, 4), 'v');
      fresh.restoreState!([]);
      expect(drain(fresh, prng(1))).to.deep.equal(['one', 'two', 'three']);

      const done = range(2).map((i) => directoryTextSource(path, source(i, 2, 4), 'v'));
      done.forEach((l) => drain(l, prng(2)));
      const restored = directoryTextSource(path, source(0, 1, 4), 'v');
      restored.restoreState!(done.map((l) => viaWire(l.snapshotState!(3))));
      expect(drain(restored, prng(3))).to.be.empty;
    });
  });

  describe('parseCsvLine', () => {
    it('splits RFC 4180 fields: quoted, with delimiters and doubled quotes inside, empty', () => {
      expect(parseCsvLine('a,b,c', ',')).to.deep.equal(['a', 'b', 'c']);
      expect(parseCsvLine('', ',')).to.deep.equal(['']);
      expect(parseCsvLine(',,', ',')).to.deep.equal(['', '', '']);
      expect(parseCsvLine('"a,b","say ""hi""",""', ',')).to.deep.equal(['a,b', 'say "hi"', '']);
      expect(parseCsvLine('"""",x', ',')).to.deep.equal(['"', 'x']);
      expect(parseCsvLine(' a , "b" ', ',')).to.deep.equal([' a ', ' "b" ']);
      expect(parseCsvLine('a;"b;c";d', ';')).to.deep.equal(['a', 'b;c', 'd']);
      expect(parseCsvLine('a||"b||c"||', '||')).to.deep.equal(['a', 'b||c', '']);
      expect(parseCsvLine('日本\t"🙂\t"', '\t')).to.deep.equal(['日本', '🙂\t']);
    });

    it('says what is wrong with an unbalanced quote or text after a closing quote', () => {
      expect(parseCsvLine('a,"b', ',')).to.be.a('string').and.to.match(/not closed by the end of the line/);
      expect(parseCsvLine('"a""', ',')).to.be.a('string').and.to.match(/unbalanced quote/);
      expect(parseCsvLine('"a"b,c', ',')).to.be.a('string').and.to.match(/followed by "b,c", not the delimiter/);
    });
  });

  describe('csvSource', () => {
    const FIELDS: CsvField[] = [
      { name: 'name', type: 'string' }, { name: 'price', type: 'number' }, { name: 'count', type: 'integer' }, { name: 'ok', type: 'boolean' },
    ];
    const csv = (path: string, extra: { header?: boolean; delimiter?: string; fields?: CsvField[] } = {}, options: FileSourceOptions = {}) =>
      (src: SplitSource): OperatorLogic => csvSource({ operator: 'source.csv', path, fields: FIELDS, ...extra }, src, 'prices', options);

    it('reads records of typed fields: quotes, delimiters and doubled quotes inside, CRLF or LF, empty values as null, empty lines skipped', () => {
      const path = file([
        'apple,1.5,3,true',
        '"pear, green",-2,0,FALSE\r',
        '"say ""hi""",1e3,-7,True',
        '',
        ',,,',
        '\r',
        '"",  ,  ,  ',
        ' spaced , 42 ,12 , false ',
        '日本🙂,NaN,9007199254740991,true',
      ].join('\n'));
      expect(drain(csv(path)(source(0, 1)), prng(1))).to.deep.equal([
        { name: 'apple', price: 1.5, count: 3, ok: true },
        { name: 'pear, green', price: -2, count: 0, ok: false },
        { name: 'say "hi"', price: 1000, count: -7, ok: true },
        { name: '', price: null, count: null, ok: null },
        { name: '', price: null, count: null, ok: null },
        { name: ' spaced ', price: 42, count: 12, ok: false },
        { name: '日本🙂', price: NaN, count: 9007199254740991, ok: true },
      ]);
    });

    it('takes another delimiter', () => {
      const path = file('a;1;2;true\n"b;c";3,5;4;false\n');
      const fields: CsvField[] = [...FIELDS.slice(0, 1), { name: 'price', type: 'string' }, ...FIELDS.slice(2)];
      expect(drain(csv(path, { delimiter: ';', fields })(source(0, 1)), prng(1))).to.deep.equal([
        { name: 'a', price: '1', count: 2, ok: true }, { name: 'b;c', price: '3,5', count: 4, ok: false },
      ]);
      const tabs = file('x\t1\t2\ttrue\n');
      expect(drain(csv(tabs, { delimiter: '\t' })(source(0, 1)), prng(1))).to.deep.equal([{ name: 'x', price: 1, count: 2, ok: true }]);
    });

    it('skips the header line of each file of a directory, whatever the ranges and the parallelism, and checks it names the fields', () => {
      const files: Record<string, string> = {};
      const expected: unknown[] = [];
      for (const f of range(10)) {
        const rows = range(f * 7).map((i) => ({ name: `f${f}-${i}`, price: i / 4, count: i, ok: i % 2 === 0 }));
        expected.push(...rows);
        const header = f % 3 === 0 ? '\uFEFFname,price,count,ok' : f % 3 === 1 ? '"name", price ,count,"ok"' : 'name,price,count,ok';
        files[`f${f}.csv`] = `${header}\r\n${rows.map((r) => `${r.name},${r.price},${r.count},${r.ok}`).join('\n')}`;
      }
      const path = directory(files);
      for (const rangeBytes of [1, 10, 100, undefined]) {
        for (const p of [1, 4]) {
          const got = readAll(csv(path, { header: true }, { rangeBytes }), p, 16, prng(p)).flat() as { name: string }[];
          expect(got.slice().sort((a, b) => a.name.localeCompare(b.name)), `ranges of ${rangeBytes} p ${p}`)
            .to.deep.equal(expected.slice().sort((a, b) => (a as { name: string }).name.localeCompare((b as { name: string }).name)));
        }
      }
    });

    it('without header, a header line is data: a clear type error', () => {
      const path = file('name,price,count,ok\nx,1,2,true\n', 'with-header.csv');
      expect(failureReading(csv(path))).to.equal(`${path}:1: field 'price' expects number, got 'price'`);
    });

    it('fails on a header that does not name the declared fields, with the file and line', () => {
      const path = directory({ 'a.csv': 'name,price,count,ok\n', 'b.csv': 'name,cost,count,ok\nx,1,2,true\n' });
      expect(failureReading(csv(path, { header: true }), 2, 8)).to.equal(
        `${join(path, 'b.csv')}:1: the header names the columns name, cost, count, ok, but the fields declared are name, price, count, ok`);
      const short = file('name,price\n');
      expect(failureReading(csv(short, { header: true }))).to.match(/:1: the header names the columns name, price, but the fields declared are/);
    });

    it('fails on a value of the wrong type, naming file, line, field, type and text', () => {
      const lines = range(60).map((i) => `n${i},${i},${i},true`);
      const cases: [string, string][] = [
        ['n,abc,1,true', "field 'price' expects number, got 'abc'"],
        ['n,1,1.5,true', "field 'count' expects integer, got '1.5'"],
        ['n,1,99999999999999999999,true', "field 'count' expects integer, got '99999999999999999999'"],
        ['n,1,x1,true', "field 'count' expects integer, got 'x1'"],
        ['n,1,1,yes', "field 'ok' expects boolean, got 'yes'"],
        ['n,1,1,"1"', "field 'ok' expects boolean, got '1'"],
      ];
      for (const [bad, message] of cases) {
        const content = [...lines.slice(0, 41), bad, ...lines.slice(41)].join('\r\n');
        const path = file(content);
        // Line 42, read by whichever subtask owns its range; the line number is counted from the file's start.
        expect(failureReading(csv(path, {}, { rangeBytes: 64 }), 3, 8)).to.equal(`${path}:42: ${message}`);
      }
    });

    it('fails on a line with the wrong number of fields', () => {
      const path = file('a,1,2,true\nb,1,2\nc,1,2,true,extra\n');
      expect(failureReading(csv(path))).to.equal(`${path}:2: expected 4 fields (name, price, count, ok), got 3`);
      const extra = file('c,1,2,true,extra\n');
      expect(failureReading(csv(extra))).to.equal(`${extra}:1: expected 4 fields (name, price, count, ok), got 5`);
    });

    it('fails on an unbalanced quote (a quoted field with a line break inside is not supported), with file and line', () => {
      const path = file('a,1,2,true\n"multi\nline",1,2,true\n');
      const message = failureReading(csv(path));
      expect(message).to.match(new RegExp(`^${path.replaceAll(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: `));
      expect(message).to.include('not closed by the end of the line').and.to.include('line breaks inside are not supported');
      const after = file('"a"b,1,2,true\n');
      expect(failureReading(csv(after))).to.include(`${after}:1: the quoted field ending at column 3 is followed by`);
    });

    it('refuses a bad delimiter or bad fields when built, naming the vertex', () => {
      const path = file('a\n');
      for (const delimiter of ['', '"', '\n', ',\r']) {
        expect(failure(() => csv(path, { delimiter })(source(0, 1)), 'DESCRIPTOR_INVALID')).to.include("'prices'").and.to.include('delimiter');
      }
      expect(failure(() => csv(path, { fields: [] })(source(0, 1)), 'DESCRIPTOR_INVALID')).to.include('no fields');
      expect(failure(() => csv(path, { fields: [{ name: 'a', type: 'string' }, { name: 'a', type: 'number' }] })(source(0, 1)), 'DESCRIPTOR_INVALID'))
        .to.include("field 'a' twice");
      expect(failure(() => csv(path, { fields: [{ name: 'a', type: 'date' as 'string' }] })(source(0, 1)), 'DESCRIPTOR_INVALID')).to.include('"date"');
    });

    it('after a snapshot and a restore, reads every record exactly once', () => {
      const random = prng(21);
      const files: Record<string, string> = {};
      const expected: string[] = [];
      for (const f of range(6)) {
        const rows = range(Math.floor(random() * 200)).map((i) => `"f${f},${i}",${i},${i},${i % 3 === 0}`);
        files[`f${f}.csv`] = `name,price,count,ok\n${rows.join('\n')}\n`;
        expected.push(...rows.map((_, i) => `f${f},${i}`));
      }
      const path = directory(files);
      for (const rangeBytes of [100, 1000, undefined]) {
        for (const [from, to] of [[1, 1], [2, 3], [3, 2], [4, 1], [1, 4]]) {
          const { before, after } = failover(csv(path, { header: true }, { rangeBytes }), from!, to!, 16, random, () => Math.floor(random() * 40));
          const names = [...before, ...after].map((r) => (r as { name: string }).name);
          expect(sortedStrings(names), `ranges of ${rangeBytes} ${from} → ${to}`).to.deep.equal(sortedStrings(expected));
        }
      }
    });
  });

  describe('jsonLinesSource', () => {
    const json = (path: string, schema?: Record<string, unknown>, options: FileSourceOptions = {}) =>
      (src: SplitSource): OperatorLogic => jsonLinesSource({ operator: 'source.jsonLines', path, ...(schema ? { schema } : {}) }, src, 'events', options);
    const SCHEMA = {
      type: 'object', required: ['id', 'name'], properties: { id: { type: 'integer' }, name: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
    };

    it('parses one JSON document per non-empty line, of any kind', () => {
      const path = file('{"a":1,"b":[1,2,{"c":"日本"}]}\r\n\n  \n"text"\n42\nnull\ntrue\n[1,"🙂"]');
      expect(drain(json(path)(source(0, 1)), prng(1))).to.deep.equal([{ a: 1, b: [1, 2, { c: '日本' }] }, 'text', 42, null, true, [1, '🙂']]);
    });

    it('fails on bad JSON with the file and line', () => {
      const path = file('{"a":1}\n\n{"a":\n');
      expect(failureReading(json(path))).to.match(new RegExp(`^${path.replaceAll(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3: not valid JSON: `));
    });

    it('checks each record against the schema, failing with the file, line and what does not match', () => {
      const good = range(100).map((i) => JSON.stringify({ id: i, name: `n${i}`, tags: ['x'] }));
      const path = directory({ 'a.jsonl': good.join('\n'), 'b.jsonl': [...good.slice(0, 70), '{"id":1.5,"name":"x"}', ...good.slice(70)].join('\n') });
      expect(readAll(json(join(path, 'a.jsonl'), SCHEMA), 2, 8, prng(1)).flat()).to.have.length(100);
      expect(failureReading(json(path, SCHEMA, { rangeBytes: 100 }), 3, 16)).to.equal(`${join(path, 'b.jsonl')}:71: the record does not match the schema: /id must be integer`);
      const missing = file('{"id":1}\n');
      expect(failureReading(json(missing, SCHEMA))).to.equal(`${missing}:1: the record does not match the schema: the record must have required property 'name'`);
      const draft2020 = file('{"id":"x","name":"y"}\n');
      expect(failureReading(json(draft2020, { $schema: 'https://json-schema.org/draft/2020-12/schema', ...SCHEMA })))
        .to.equal(`${draft2020}:1: the record does not match the schema: /id must be integer`);
    });

    it('refuses a schema that is not one when built, naming the vertex', () => {
      const path = file('{}\n');
      expect(failure(() => json(path, { type: 'no-such-type' })(source(0, 1)), 'DESCRIPTOR_INVALID')).to.include("the schema of 'events' is not a valid JSON Schema");
    });

    it('after a snapshot and a restore, reads every record exactly once', () => {
      const random = prng(5);
      const files = Object.fromEntries(range(5).map((f) => [`p${f}`, range(150).map((i) => JSON.stringify({ id: f * 1000 + i, name: 'é,"' })).join('\n')]));
      const path = directory(files);
      for (const [from, to] of [[2, 3], [3, 1], [1, 2]]) {
        const { before, after } = failover(json(path, SCHEMA, { rangeBytes: 500 }), from!, to!, 32, random, () => Math.floor(random() * 30));
        const ids = [...before, ...after].map((r) => (r as { id: number }).id).sort((a, b) => a - b);
        expect(ids).to.deep.equal(range(5).flatMap((f) => range(150).map((i) => f * 1000 + i)));
      }
    });
  });
});
