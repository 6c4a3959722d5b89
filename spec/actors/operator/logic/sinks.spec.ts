import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { COLLECT_MAX_BYTES, collectSink, textFileSink } from '../../../../actors/operator/logic/sinks.ts';
import type { OperatorLogic } from '../../../../actors/operator/logic/types.ts';

const noOutput = { emit: (): void => { throw new Error('a sink emits nothing'); } };

function feed(logic: OperatorLogic, records: unknown[]): void {
  for (const record of records) logic.process!(record, noOutput);
}

describe('sinks', () => {
  describe('textFileSink', () => {
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-sinks-')); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('writes one line per record to `path` at parallelism 1: strings as they are, other values as JSON', () => {
      const path = join(dir, 'nested', 'out.txt');
      const sink = textFileSink(path, 0, 1);
      feed(sink, ['hello world', 'é 日本 🙂', '', 42, 1.5, true, null, { a: 1, b: ['x'] }, ['to', 3], { n: 10n }]);
      sink.finish?.(noOutput);
      sink.close?.();
      expect(readFileSync(path, 'utf8')).to.equal(
        ['hello world', 'é 日本 🙂', '', '42', '1.5', 'true', 'null', '{"a":1,"b":["x"]}', '["to",3]', '{"n":"10"}'].join('\n') + '\n');
    });

    it('writes `path/part-<subtask>` at parallelism above 1', () => {
      const path = join(dir, 'counts');
      const sinks = [0, 1, 2].map((subtask) => textFileSink(path, subtask, 3));
      sinks.forEach((sink, subtask) => feed(sink, [`from ${subtask}`, subtask]));
      for (const sink of sinks) sink.close?.();
      expect(readdirSync(path).sort()).to.deep.equal(['part-0', 'part-1', 'part-2']);
      for (const subtask of [0, 1, 2]) {
        expect(readFileSync(join(path, `part-${subtask}`), 'utf8')).to.equal(`from ${subtask}\n${subtask}\n`);
      }
    });

    it('keeps every record, in order, past its write batch', () => {
      const path = join(dir, 'many.txt');
      const sink = textFileSink(path, 0, 1);
      const records = Array.from({ length: 10_001 }, (_, i) => (i % 2 === 0 ? `line ${i}` : { i }));
      feed(sink, records);
      sink.finish?.(noOutput);
      feed(sink, ['after finish']);
      sink.close?.();
      const lines = readFileSync(path, 'utf8').split('\n');
      expect(lines.pop()).to.equal('');
      expect(lines).to.deep.equal([...records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))), 'after finish']);
    });

    it('writes an empty file when there were no records, and close() is safe to repeat', () => {
      const path = join(dir, 'empty.txt');
      const sink = textFileSink(path, 0, 1);
      sink.close?.();
      sink.close?.();
      expect(readFileSync(path, 'utf8')).to.equal('');
    });

    it('replaces a file that was there before', () => {
      const path = join(dir, 'old.txt');
      writeFileSync(path, 'old contents\nold contents\n');
      const sink = textFileSink(path, 0, 1);
      feed(sink, ['new']);
      sink.close?.();
      expect(readFileSync(path, 'utf8')).to.equal('new\n');
    });

    it('fails clearly when it cannot create the file, naming it', () => {
      const blocker = join(dir, 'a-file');
      writeFileSync(blocker, '');
      const path = join(blocker, 'out.txt');
      expect(() => textFileSink(path, 0, 1)).to.throw(CloudflinkError, `cannot write the output file ${path}`);
      expect(() => textFileSink(blocker, 1, 2)).to.throw(CloudflinkError, join(blocker, 'part-1'));
      expect(existsSync(path)).to.equal(false);
    });
  });

  describe('collectSink', () => {
    it('collects records in order up to its limit', () => {
      const sink = collectSink(3, 'results');
      feed(sink, ['a', { b: 1 }, 3]);
      expect(sink.collected!()).to.deep.equal(['a', { b: 1 }, 3]);
    });

    it('refuses the record past its limit with a message that says what to do', () => {
      const sink = collectSink(3, 'results');
      feed(sink, [1, 2, 3]);
      let caught: unknown;
      try {
        sink.process!(4, noOutput);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(CloudflinkError);
      expect((caught as CloudflinkError).code).to.equal('UDF_FAILED');
      expect((caught as Error).message)
        .to.include("'results' collected more than 3 records")
        .and.to.include('jobManager.collectLimit')
        .and.to.include('write large results to a file');
      expect(sink.collected!()).to.deep.equal([1, 2, 3]);
    });

    it('with a limit of 0 refuses the first record', () => {
      expect(() => collectSink(0, 'none').process!('x', noOutput)).to.throw(CloudflinkError, /collected more than 0 records/);
    });

    it('refuses, clearly, records past its share of what one NATS message can carry back (rather than hang the job)', () => {
      const record = 'x'.repeat(1000);
      const sink = collectSink(1_000_000, 'big', 10 * 1024);
      let taken = 0;
      let caught: unknown;
      try {
        for (; taken < 100; taken++) sink.process!(record, noOutput);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(CloudflinkError);
      expect((caught as Error).message).to.include("'big' collected more than 10 KB").and.to.include('write large results to a file');
      expect(taken, 'about 10 KB of 1 KB records were taken').to.be.within(9, 10);
      expect(sink.collected!()).to.have.length(taken);
    });

    it('keeps a subtask\'s records under NATS\'s 1 MB message: COLLECT_MAX_BYTES', () => {
      expect(COLLECT_MAX_BYTES).to.be.below(1024 * 1024);
    });
  });
});
