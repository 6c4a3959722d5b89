import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkUserFunctionSource, instantiateUserFunction } from '../../../lib/descriptor/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';

async function rejection(promise: Promise<unknown>): Promise<CloudflinkError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(CloudflinkError);
    return error as CloudflinkError;
  }
  return expect.fail('expected a rejection');
}

describe('user functions', () => {
  describe('checkUserFunctionSource', () => {
    for (const source of [
      '(line) => line.split(" ")',
      'x => x * 2',
      'function (a, b) { return a + b }',
      'function tokenize(line) { return line.split(/\\s+/) }',
      'async (x) => { await x; return x }',
      'async function load(x) { return x }',
      'function* range(n) { for (let i = 0; i < n; i++) yield i }',
      '(x) => x // with a trailing line comment',
    ]) {
      it(`accepts ${source}`, () => {
        expect(checkUserFunctionSource(source)).to.equal(null);
      });
    }

    it('returns the SyntaxError of text that does not compile', () => {
      expect(checkUserFunctionSource('(x) => { return x + }')).to.match(/^SyntaxError: Unexpected token/);
      expect(checkUserFunctionSource('(x) => x; (y) => y')).to.match(/^SyntaxError/);
    });

    it('compiles in strict mode', () => {
      expect(checkUserFunctionSource('function (x) { with (x) { return 1 } }')).to.match(/strict mode/i);
    });

    it('cannot be escaped by closing the wrapper early', () => {
      expect(checkUserFunctionSource('1); }); globalThis.escaped = true; (function () { return (1')).to.match(/SyntaxError/);
    });

    it('runs nothing', () => {
      const g = globalThis as { udfRan?: boolean };
      expect(checkUserFunctionSource('(() => { globalThis.udfRan = true; return (x) => x })()')).to.equal(null);
      expect(g.udfRan).to.equal(undefined);
    });
  });

  describe('instantiateUserFunction from source text', () => {
    it('has params in scope', async () => {
      const scale = await instantiateUserFunction('(x) => x * params.factor', { factor: 3 }, '/vertices/1/fn');
      expect(scale(2)).to.equal(6);
    });

    it('runs in strict mode', async () => {
      const self = await instantiateUserFunction('function () { return this }', {}, '/vertices/1/fn');
      expect(self()).to.equal(undefined);
      const leak = await instantiateUserFunction('() => { undeclared = 1 }', {}, '/vertices/1/fn');
      expect(() => leak()).to.throw(ReferenceError);
    });

    it('provides __name for functions captured from esbuild output', async () => {
      const fn = await instantiateUserFunction('(x) => { const inc = __name((y) => y + 1, "inc"); return inc(x); }', {}, 'w');
      expect(fn(1)).to.equal(2);
    });

    it('names the function in stack traces by where it came from', async () => {
      const fn = await instantiateUserFunction('(x) => { throw new Error("bad record") }', {}, '/vertices/1/fn');
      expect(() => fn(1)).to.throw(Error).with.property('stack').that.matches(/udf:\/vertices\/1\/fn:1:/);
    });

    it('reports a function that throws while being created as UDF_FAILED, naming where', async () => {
      const error = await rejection(instantiateUserFunction('(() => { throw new Error("boom") })()', {}, '/vertices/2/fn'));
      expect(error.code).to.equal('UDF_FAILED');
      expect(error.message).to.match(/\/vertices\/2\/fn.*Error: boom/);
    });

    it('reports a value that is not a function as DESCRIPTOR_INVALID, naming where', async () => {
      const error = await rejection(instantiateUserFunction('42', {}, '/vertices/2/fn'));
      expect(error.code).to.equal('DESCRIPTOR_INVALID');
      expect(error.message).to.match(/\/vertices\/2\/fn evaluates to a number \(42\), not a function/);
      const params = await rejection(instantiateUserFunction('params.missing', {}, '/edges/0/key/fn'));
      expect(params.message).to.match(/\/edges\/0\/key\/fn evaluates to undefined/);
    });

    it('reports text that does not compile as DESCRIPTOR_INVALID', async () => {
      const error = await rejection(instantiateUserFunction('(x) =>', {}, '/vertices/2/fn'));
      expect(error.code).to.equal('DESCRIPTOR_INVALID');
      expect(error.message).to.match(/does not compile: SyntaxError/);
    });
  });

  describe('instantiateUserFunction from a module', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'cloudflink-udf-'));
      writeFileSync(join(dir, 'udfs.mjs'), 'export default (x) => x * 2;\nexport const upper = (s) => s.toUpperCase();\nexport const answer = 42;\n');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('loads the default export, or a named one', async () => {
      const double = await instantiateUserFunction({ module: join(dir, 'udfs.mjs') }, {}, '/vertices/1/fn');
      expect(double(4)).to.equal(8);
      const upper = await instantiateUserFunction({ module: join(dir, 'udfs.mjs'), export: 'upper' }, {}, '/vertices/1/fn');
      expect(upper('a')).to.equal('A');
      const basename = await instantiateUserFunction({ module: 'node:path', export: 'basename' }, {}, '/vertices/1/fn');
      expect(basename('/a/b.txt')).to.equal('b.txt');
    });

    it('says the module must be installed on the Task Manager hosts', async () => {
      const error = await rejection(instantiateUserFunction({ module: 'cloudflink-no-such-module' }, {}, '/vertices/1/fn'));
      expect(error.code).to.equal('UDF_FAILED');
      expect(error.message).to.match(/cannot load module 'cloudflink-no-such-module'.*installed on every Task Manager host/);
    });

    it('names a missing export and what the module does export', async () => {
      const error = await rejection(instantiateUserFunction({ module: join(dir, 'udfs.mjs'), export: 'lower' }, {}, '/vertices/1/fn'));
      expect(error.code).to.equal('DESCRIPTOR_INVALID');
      expect(error.message).to.match(/no export 'lower'.*exports: answer, default, upper/);
    });

    it('rejects an export that is not a function', async () => {
      const error = await rejection(instantiateUserFunction({ module: join(dir, 'udfs.mjs'), export: 'answer' }, {}, '/vertices/1/fn'));
      expect(error.message).to.match(/evaluates to a number \(42\), not a function/);
    });
  });
});
