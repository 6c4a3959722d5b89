import { expect } from 'chai';
import { captureFunction, functionSource } from '../../../lib/api/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';

/** What a Task Manager does with the text: evaluate it with `params` in scope. */
function revive(source: string, params: Record<string, unknown> = {}): (...args: any[]) => any {
  return new Function('params', 'return (' + source + ')')(params);
}

function captured(fn: unknown): { source: string; name?: string } {
  const { fn: source, name } = captureFunction(fn, 'map()');
  expect(source).to.be.a('string');
  return { source: source as string, name };
}

describe('capturing user functions', () => {
  it('keeps an arrow function as it is, and it re-evaluates to the same function', () => {
    const fn = (line: string) => line.split(' ').map((word) => [word, 1]);
    const { source } = captured(fn);
    expect(source).to.equal(fn.toString());
    expect(revive(source)('to be or')).to.deep.equal([['to', 1], ['be', 1], ['or', 1]]);
  });

  it('keeps function expressions, named or not, and generators', () => {
    const anonymous = captured(function (x: number) { return x * 3; });
    expect(anonymous.source).to.match(/^function\s*\(/);
    expect(revive(anonymous.source)(4)).to.equal(12);

    const named = captured(function triple(x: number) { return x * 3; });
    expect(named.name).to.equal('triple');
    expect(revive(named.source)(5)).to.equal(15);

    const words = captured(function* (line: string) { for (const w of line.split(' ')) yield w.toUpperCase(); });
    expect([...revive(words.source)('a b')]).to.deep.equal(['A', 'B']);
  });

  it('takes the name of a function bound to a variable, and none from an inline one', () => {
    const splitWords = (line: string) => line.split(' ');
    expect(captured(splitWords).name).to.equal('splitWords');
    expect(captured((x: number) => x).name).to.equal(undefined);
    expect(captured(new Function('x', 'return x')).name).to.equal(undefined); // 'anonymous'
  });

  it('turns method shorthand into a function expression', () => {
    const udfs = {
      parse(line: string) { return Number(line.trim()); },
      async fetchDouble(x: number) { return 2 * x; },
      *pairs(x: number) { yield x; yield x; },
      async *later(x: number) { yield x; },
    };
    const parse = captured(udfs.parse);
    expect(parse.source).to.match(/^function parse\s*\(/);
    expect(parse.name).to.equal('parse');
    expect(revive(parse.source)(' 42 ')).to.equal(42);

    const fetchDouble = captured(udfs.fetchDouble);
    expect(fetchDouble.source).to.match(/^async function fetchDouble\s*\(/);
    return revive(fetchDouble.source)(21).then((value: number) => {
      expect(value).to.equal(42);
      expect([...revive(captured(udfs.pairs).source)(7)]).to.deep.equal([7, 7]);
      expect(captured(udfs.later).source).to.match(/^async function\* later\s*\(/);
    });
  });

  it('handles method names that are reserved words, quoted, computed or numeric', () => {
    const udfs = {
      delete(x: number) { return x - 1; },
      ['with (parens)'](x: number) { return x + 1; },
      7(x: number) { return x * 7; },
    };
    expect(revive(captured(udfs.delete).source)(3)).to.equal(2);
    expect(revive(captured(udfs['with (parens)']).source)(3)).to.equal(4);
    expect(revive(captured(udfs[7]).source)(3)).to.equal(21);
  });

  it('ships functions whose body has nested named helpers (tsx inserts __name calls)', () => {
    const fn = (x: number) => {
      function twice(y: number) { return 2 * y; }
      const inc = (y: number) => y + 1;
      return inc(twice(x));
    };
    expect(revive(captured(fn).source)(5)).to.equal(11);
  });

  it('lets the function read params as a free variable', () => {
    const { source } = captured((x: number) => x * (params as { factor: number }).factor);
    expect(revive(source, { factor: 10 })(3)).to.equal(30);
  });

  it('rejects native and bound functions, saying what to pass instead', () => {
    for (const fn of [Math.max, ((x: number) => x).bind(null), parseInt]) {
      expect(() => captureFunction(fn, 'map()')).to.throw(CloudflinkError, /map\(\).*native or bound.*arrow function or a function expression.*params/s);
    }
  });

  it('rejects classes', () => {
    class Parser { parse(x: string) { return x; } }
    expect(() => captureFunction(Parser, 'map()')).to.throw(CloudflinkError, /class.*arrow function or a function expression.*params/s);
    // A class's method, taken off an instance, is fine.
    expect(revive(functionSource(new Parser().parse, 'map()'))('x')).to.equal('x');
  });

  it('rejects text that does not compile as strict code, as Task Managers compile it', () => {
    const sloppy = new Function('scope', 'with (scope) { return a; }');
    expect(() => captureFunction(sloppy, 'map()')).to.throw(CloudflinkError, /map\(\).*does not compile.*strict code.*with statement/s);
  });

  it('rejects what is not a function, and passes module references through', () => {
    expect(() => captureFunction('(x) => x', 'map()')).to.throw(CloudflinkError, /map\(\) expects a function/);
    expect(() => captureFunction(undefined, 'map()')).to.throw(CloudflinkError, /got undefined/);
    expect(captureFunction({ module: 'my-udfs', export: 'parse' }, 'map()')).to.deep.equal({ fn: { module: 'my-udfs', export: 'parse' }, name: 'parse' });
  });
});

declare const params: unknown;
