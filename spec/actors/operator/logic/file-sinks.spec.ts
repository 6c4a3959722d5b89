import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '../../../../lib/codec/index.ts';
import type { CsvField } from '../../../../lib/descriptor/types.ts';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { splitsFor } from '../../../../lib/state/index.ts';
import { csvField, csvSink, jsonLinesSink } from '../../../../actors/operator/logic/file-sinks.ts';
import { csvSource, jsonLinesSource, type FileSourceOptions } from '../../../../actors/operator/logic/file-sources.ts';
import type { SplitSource } from '../../../../actors/operator/logic/sources.ts';
import type { OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { thrownBy } from '../../../helpers/logic.ts';
import { range } from '../../../helpers/nats.ts';
import { prng } from '../../../helpers/random.ts';

const source = (subtask: number, parallelism: number, splitCount = 128): SplitSource =>
  ({ splits: splitsFor(subtask, parallelism, splitCount), splitCount });

const NO_OUTPUT = { emit: () => {} };

/** Records dealt round-robin to `parallelism` sink subtasks, which then finish and close. */
function write(make: (subtask: number, parallelism: number) => OperatorLogic, records: unknown[], parallelism: number): void {
  const sinks = range(parallelism).map((subtask) => make(subtask, parallelism));
  records.forEach((record, i) => sinks[i % parallelism]!.process!(record, NO_OUTPUT));
  for (const sink of sinks) {
    sink.finish?.(NO_OUTPUT);
    sink.close?.();
  }
}

/** Everything a source emits over `parallelism` subtasks, some of them restored from a snapshot taken mid-way. */
function read(make: (src: SplitSource) => OperatorLogic, parallelism: number, random: () => number, splitCount = 32): unknown[] {
  const out: unknown[] = [];
  const collector = { emit: (r: unknown) => { out.push(r); } };
  const first = range(parallelism).map((i) => make(source(i, parallelism, splitCount)));
  for (const logic of first) for (let calls = Math.floor(random() * 10); calls > 0; calls--) logic.produce!(collector, 1 + Math.floor(random() * 5));
  const states = first.map((logic) => decode(encode(logic.snapshotState!(1))));
  first.forEach((logic) => logic.close?.());
  const restored = range(parallelism).map((i) => make(source(i, parallelism, splitCount)));
  for (const logic of restored) {
    logic.restoreState!(states);
    while (logic.produce!(collector, 1 + Math.floor(random() * 50)) !== true);
    logic.close?.();
  }
  return out;
}

const PIECES = ['a', 'word', ',', ';', '"', '""', "'", ' ', '\t', '|', '\\', 'é', '日本', '🙂', 'naïve', '0', '-', '{}', 'null', '"x"', ', "'];

function randomText(random: () => number): string {
  return range(Math.floor(random() * 6)).map(() => PIECES[Math.floor(random() * PIECES.length)]!).join('');
}

function randomNumber(random: () => number): number | null {
  const roll = random();
  if (roll < 0.1) return null;
  if (roll < 0.15) return [Infinity, -Infinity, NaN, 0, Number.MAX_VALUE, Number.MIN_VALUE, 1e21, -1e-7][Math.floor(random() * 8)]!;
  return (random() - 0.5) * 10 ** Math.floor(random() * 12);
}

interface Row { id: number; text: string | null; price: number | null; count: number | null; ok: boolean | null }

const FIELDS: CsvField[] = [
  { name: 'id', type: 'integer' }, { name: 'text', type: 'string' }, { name: 'price', type: 'number' }, { name: 'count', type: 'integer' }, { name: 'ok', type: 'boolean' },
];

function randomRows(count: number, random: () => number): Row[] {
  return range(count).map((id) => ({
    id,
    text: random() < 0.1 ? null : randomText(random),
    price: randomNumber(random),
    count: random() < 0.1 ? null : Math.floor((random() - 0.5) * 2 ** 40),
    ok: random() < 0.1 ? null : random() < 0.5,
  }));
}

const byId = (rows: unknown[]): unknown[] => [...rows].sort((a, b) => (a as Row).id - (b as Row).id);

describe('file sinks', function () {
  this.timeout(60_000);
  let dir: string;
  let n = 0;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-file-sinks-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const fresh = (name = 'out'): string => join(dir, `${name}-${n++}`);

  describe('csvField', () => {
    it('quotes only what needs it, doubling quotes; null and undefined are empty; numbers, booleans as text, objects as JSON', () => {
      const cases: [unknown, string][] = [
        ['plain', 'plain'], ['', ''], [null, ''], [undefined, ''], ['a,b', '"a,b"'], ['say "hi"', '"say ""hi"""'], ['"', '""""'],
        ['line\nbreak', '"line\nbreak"'], ['cr\r', '"cr\r"'], [' spaced ', ' spaced '], ['日本🙂', '日本🙂'], ['a;b', 'a;b'],
        [42, '42'], [-1.5, '-1.5'], [true, 'true'], [false, 'false'], [10n, '10'],
        [{ a: 1, b: 'x,y' }, '"{""a"":1,""b"":""x,y""}"'], [[1, 2], '"[1,2]"'], [{}, '{}'],
      ];
      for (const [value, text] of cases) expect(csvField(value, ','), String(value)).to.equal(text);
      expect(csvField('a;b', ';')).to.equal('"a;b"');
      expect(csvField('a,b', ';')).to.equal('a,b');
      expect(csvField('a||b', '||')).to.equal('"a||b"');
      expect(csvField('a|', '||')).to.equal('"a|"');
      expect(csvField('|a|b', '||')).to.equal('|a|b');
    });
  });

  describe('csvSink', () => {
    it('writes one file at parallelism 1: a header of the field names when asked, then a line per record, by name or by position', () => {
      const path = fresh('one.csv');
      const sink = csvSink({ operator: 'sink.csv', path, fields: ['name', 'n', 'extra'], header: true }, 0, 1, 'out');
      sink.process!({ name: 'a,b', n: 1, other: 'ignored' }, NO_OUTPUT);
      sink.process!(['arr', null, { x: [1] }], NO_OUTPUT);
      sink.process!({}, NO_OUTPUT);
      sink.finish!(NO_OUTPUT);
      sink.close!();
      expect(readFileSync(path, 'utf8')).to.equal('name,n,extra\n"a,b",1,\narr,,"{""x"":[1]}"\n,,\n');
    });

    it('writes part files in a directory at parallelism > 1, each with its header, in the delimiter asked', () => {
      const path = fresh('parts');
      write((s, p) => csvSink({ operator: 'sink.csv', path, fields: ['a', 'b'], header: true, delimiter: ';' }, s, p, 'out'),
        range(7).map((i) => ({ a: `x;${i}`, b: i })), 3);
      expect(readdirSync(path).sort()).to.deep.equal(['part-0', 'part-1', 'part-2']);
      expect(readFileSync(join(path, 'part-0'), 'utf8')).to.equal('a;b\n"x;0";0\n"x;3";3\n"x;6";6\n');
      expect(readFileSync(join(path, 'part-2'), 'utf8')).to.equal('a;b\n"x;2";2\n"x;5";5\n');
    });

    it('without header writes only the records; with no records, an empty file (or one with just the header)', () => {
      const bare = fresh('bare.csv');
      write((s, p) => csvSink({ operator: 'sink.csv', path: bare, fields: ['a'] }, s, p, 'out'), [], 1);
      expect(readFileSync(bare, 'utf8')).to.equal('');
      const headed = fresh('headed.csv');
      write((s, p) => csvSink({ operator: 'sink.csv', path: headed, fields: ['a', 'b c'], header: true }, s, p, 'out'), [], 1);
      expect(readFileSync(headed, 'utf8')).to.equal('a,b c\n');
    });

    it('fails on a record that is neither an object nor an array, and refuses a bad delimiter or no fields, naming the vertex', () => {
      const sink = csvSink({ operator: 'sink.csv', path: fresh('bad.csv'), fields: ['a'] }, 0, 1, 'the-out');
      for (const record of ['text', 42, null, undefined]) {
        const error = thrownBy(() => sink.process!(record, NO_OUTPUT));
        expect(error).to.be.instanceOf(CloudflinkError);
        expect((error as CloudflinkError).code).to.equal('UDF_FAILED');
        expect((error as Error).message).to.include("the CSV sink 'the-out' needs records that are objects or arrays");
      }
      sink.close!();
      for (const spec of [{ fields: ['a'], delimiter: '"' }, { fields: ['a'], delimiter: '' }, { fields: [] }]) {
        const path = fresh('never.csv');
        const error = thrownBy(() => csvSink({ operator: 'sink.csv', path, ...spec }, 0, 1, 'the-out'));
        expect((error as CloudflinkError).code).to.equal('DESCRIPTOR_INVALID');
        expect((error as Error).message).to.include("'the-out'");
        expect(existsSync(path), 'nothing written').to.equal(false);
      }
    });
  });

  describe('jsonLinesSink', () => {
    it('writes one JSON document per line: strings quoted, undefined as null, bigints as text; part files at parallelism > 1', () => {
      const path = fresh('one.jsonl');
      write((s, p) => jsonLinesSink({ operator: 'sink.jsonLines', path }, s, p, 'out'),
        [{ a: 1, b: 'x\ny' }, 'text "q"', 3, null, undefined, [1, '日本'], { big: 12n }], 1);
      expect(readFileSync(path, 'utf8')).to.equal('{"a":1,"b":"x\\ny"}\n"text \\"q\\""\n3\nnull\nnull\n[1,"日本"]\n{"big":"12"}\n');
      const parts = fresh('parts');
      write((s, p) => jsonLinesSink({ operator: 'sink.jsonLines', path: parts }, s, p, 'out'), range(5), 2);
      expect(readFileSync(join(parts, 'part-0'), 'utf8')).to.equal('0\n2\n4\n');
      expect(readFileSync(join(parts, 'part-1'), 'utf8')).to.equal('1\n3\n');
    });
  });

  describe('round trips (write with the sink, read with the source)', () => {
    const fields = FIELDS.map((f) => f.name);
    /** What a row reads back as: an empty field is '' for a string, so a null string comes back as ''. */
    const asRead = (row: Row): Row => ({ ...row, text: row.text ?? '' });

    for (const delimiter of [',', ';', '\t', '||']) {
      for (const header of [false, true]) {
        it(`CSV of random rows, delimiter ${JSON.stringify(delimiter)}${header ? ', with header' : ''}: written at parallelism 1 and 3, read at 1 and 4, restored mid-way`, () => {
          const random = prng(delimiter.charCodeAt(0) + (header ? 1000 : 0));
          const rows = randomRows(600, random);
          for (const writers of [1, 3]) {
            const path = fresh(writers === 1 ? 'rows.csv' : 'rows');
            write((s, p) => csvSink({ operator: 'sink.csv', path, fields, header, delimiter }, s, p, 'out'), rows, writers);
            for (const readers of [1, 4]) {
              for (const options of [{}, { rangeBytes: 300 }] as FileSourceOptions[]) {
                const got = read((src) => csvSource({ operator: 'source.csv', path, fields: FIELDS, header, delimiter }, src, 'in', options), readers, random);
                expect(byId(got), `written by ${writers}, read by ${readers}, ${JSON.stringify(options)}`).to.deep.equal(rows.map(asRead));
              }
            }
          }
        });
      }
    }

    it('JSON lines of random nested records, checked by a schema: written at parallelism 1 and 3, read at 1 and 4, restored mid-way', () => {
      const random = prng(99);
      const records = randomRows(500, random).map((row) => ({ ...row, nested: { list: [row.text, row.count], flag: row.ok }, price: Number.isFinite(row.price) ? row.price : null }));
      const schema = { type: 'object', required: ['id', 'nested'], properties: { id: { type: 'integer' }, text: { type: ['string', 'null'] } } };
      for (const writers of [1, 3]) {
        const path = fresh(writers === 1 ? 'rows.jsonl' : 'jsonl');
        write((s, p) => jsonLinesSink({ operator: 'sink.jsonLines', path }, s, p, 'out'), records, writers);
        for (const readers of [1, 4]) {
          const got = read((src) => jsonLinesSource({ operator: 'source.jsonLines', path, schema }, src, 'in', { rangeBytes: 500 }), readers, random);
          expect(byId(got)).to.deep.equal(records);
        }
      }
    });
  });
});
