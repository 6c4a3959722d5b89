import { expect } from 'chai';
import { StreamExecutionEnvironment } from '../../../lib/api/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { instantiateUserFunction, isKeyed, validateDescriptor, type DescriptorIssue, type JobDescriptor } from '../../../lib/descriptor/index.ts';
import { isTwoInput } from '../../../lib/descriptor/graph.ts';

/** Orders and payments, keyed alike into one coProcess; a fresh copy each time, for a spec to break one thing in. */
function accounts(): JobDescriptor {
  return {
    apiVersion: 'cloudflink/v1', name: 'accounts', parallelism: 2,
    vertices: [
      { id: 'orders', operator: 'source.elements', elements: [{ account: 'a', amount: 3 }] },
      { id: 'payments', operator: 'source.elements', elements: [{ payer: { account: 'a' }, amount: 5 }], parallelism: 1 },
      { id: 'balance', operator: 'coProcess', fn1: '(o, ctx) => [o.amount]', fn2: '(p, ctx) => [p.amount]' },
      { id: 'out', operator: 'sink.collect' },
    ],
    edges: [
      { from: 'orders', to: 'balance', partition: 'hash', key: { field: 'account' }, input: 1 },
      { from: 'payments', to: 'balance', partition: 'hash', key: { fn: '(p) => p.payer.account' }, input: 2 },
      { from: 'balance', to: 'out' },
    ],
  };
}

/** The descriptor as loosely typed JSON, to break it in ways the types forbid. */
function broken(edit: (d: any) => void): unknown {
  const d = accounts();
  edit(d);
  return d;
}

function issuesOf(input: unknown): DescriptorIssue[] {
  const result = validateDescriptor(input);
  if (result.ok) expect.fail('expected the descriptor to be rejected');
  return result.issues;
}

/** The one issue a descriptor has; fails if there are more, so that no rule adds noise. */
function onlyIssue(input: unknown): DescriptorIssue {
  const issues = issuesOf(input);
  expect(issues, JSON.stringify(issues, null, 2)).to.have.length(1);
  return issues[0]!;
}

const notHash = (edge: 'forward' | 'rebalance' | 'broadcast'): string =>
  `both inputs of 'balance' (coProcess) must be 'hash' edges with a key, keyed alike; this edge is '${edge}'`;

describe('coProcess in a descriptor', () => {
  it('is a keyed two-input operator', () => {
    expect(isTwoInput('coProcess')).to.equal(true);
    expect(isKeyed('coProcess')).to.equal(true);
  });

  describe('a valid descriptor', () => {
    it('resolves with both hash edges, their keys and inputs, and fn1 and fn2 as given', () => {
      const result = validateDescriptor(accounts());
      if (!result.ok) return expect.fail(JSON.stringify(result.issues));
      const { job } = result;
      expect(job.vertices[2]).to.deep.include({ id: 'balance', name: 'balance', operator: 'coProcess', parallelism: 2, fn1: '(o, ctx) => [o.amount]', fn2: '(p, ctx) => [p.amount]' });
      expect(job.edges.map((e) => [e.id, e.partition, e.key, e.input])).to.deep.equal([
        ['orders->balance', 'hash', { field: 'account' }, 1],
        ['payments->balance', 'hash', { fn: '(p) => p.payer.account' }, 2],
        ['balance->out', 'forward', undefined, undefined],
      ]);
    });

    it('takes the edges in any order, the functions as module references, and the input-2 edge listed first', () => {
      const result = validateDescriptor(broken((d) => {
        d.edges.reverse();
        d.vertices[2].fn1 = { module: '@acme/ledger', export: 'ship' };
        d.vertices[2].fn2 = { module: '@acme/ledger' };
      }));
      if (!result.ok) expect.fail(JSON.stringify(result.issues));
    });

    it('lets each input have its own parallelism: hash edges redistribute', () => {
      const result = validateDescriptor(broken((d) => { d.vertices[0].parallelism = 3; d.vertices[2].parallelism = 4; }));
      if (!result.ok) return expect.fail(JSON.stringify(result.issues));
      expect(result.job.vertices.map((v) => v.parallelism)).to.deep.equal([3, 1, 4, 2]);
      expect(result.job.edges[2]!.partition, 'coProcess 4 → sink 2').to.equal('rebalance');
    });
  });

  describe('its input edges', () => {
    for (const partition of ['forward', 'rebalance', 'broadcast'] as const) {
      it(`rejects a '${partition}' input, at its partition`, () => {
        // payments at 2 like balance, or a forward edge is also refused for its parallelisms.
        const second = onlyIssue(broken((d) => { d.edges[1].partition = partition; delete d.edges[1].key; d.vertices[1].parallelism = 2; }));
        expect(second).to.deep.equal({ path: '/edges/1/partition', message: notHash(partition) });
        const first = onlyIssue(broken((d) => { d.edges[0].partition = partition; delete d.edges[0].key; d.vertices[0].parallelism = 2; }));
        expect(first).to.deep.equal({ path: '/edges/0/partition', message: notHash(partition) });
      });
    }

    it('rejects an input with no partition, naming the default it gets', () => {
      // orders (2) → balance (2) defaults to forward.
      expect(onlyIssue(broken((d) => { delete d.edges[0].partition; delete d.edges[0].key; })))
        .to.deep.equal({ path: '/edges/0/partition', message: `${notHash('forward')} (the default)` });
    });

    it('asks for a key on a hash input that has none, at its key', () => {
      expect(onlyIssue(broken((d) => { delete d.edges[1].key; })))
        .to.deep.equal({ path: '/edges/1/key', message: `a 'hash' edge needs a key: { "field": ... } or { "fn": ... }` });
    });

    it('reports a key without "partition": "hash" once, on the key, which says what to add (as for a one-input keyed operator)', () => {
      expect(onlyIssue(broken((d) => { delete d.edges[1].partition; })))
        .to.deep.equal({ path: '/edges/1/key', message: `only a 'hash' edge takes a key; add "partition": "hash"` });
    });

    it('reports a misspelt partition once, as the schema does, without calling it \'forward\' (as for a one-input keyed operator)', () => {
      expect(onlyIssue(broken((d) => { d.edges[1].partition = 'hsah'; }))).to.deep.equal({
        path: '/edges/1/partition', message: `must be one of 'forward', 'rebalance', 'hash', 'broadcast', 'custom' (got 'hsah')`,
      });
    });

    it('needs an input 1 and an input 2, at the vertex', () => {
      expect(onlyIssue(broken((d) => { d.edges.splice(1, 1); }))).to.deep.equal({
        path: '/vertices/2', message: `'balance' (coProcess) needs an edge with "input": 2 (its second stream)`,
      });
      expect(onlyIssue(broken((d) => { d.edges.splice(0, 1); }))).to.deep.equal({
        path: '/vertices/2', message: `'balance' (coProcess) needs an edge with "input": 1 (its first stream)`,
      });
    });

    it('needs every input edge to say which input it is, at the edge', () => {
      const issues = issuesOf(broken((d) => { delete d.edges[1].input; }));
      expect(issues).to.have.deep.members([
        { path: '/edges/1', message: `an edge into 'balance' (coProcess) must say which input it is: "input": 1 or 2` },
        { path: '/vertices/2', message: `'balance' (coProcess) needs an edge with "input": 2 (its second stream)` },
      ]);
    });

    it('takes one edge per input: a second input 1 is reported at its input', () => {
      const issues = issuesOf(broken((d) => { d.edges[1].input = 1; }));
      expect(issues).to.have.deep.members([
        { path: '/edges/1/input', message: `'balance' (coProcess) takes one edge as input 1; /edges/0 is one already` },
        { path: '/vertices/2', message: `'balance' (coProcess) needs an edge with "input": 2 (its second stream)` },
      ]);
    });

    it('rejects an input that is neither 1 nor 2, at its input', () => {
      const issues = issuesOf(broken((d) => { d.edges[1].input = 3; }));
      expect(issues.map((i) => i.path)).to.include('/edges/1/input');
      expect(issues.every((i) => i.path === '/edges/1/input' || i.path === '/vertices/2'), JSON.stringify(issues)).to.equal(true);
    });
  });

  describe('its functions', () => {
    for (const field of ['fn1', 'fn2'] as const) {
      it(`rejects an uncompilable ${field}, at its path`, () => {
        const issue = onlyIssue(broken((d) => { d.vertices[2][field] = '(o, ctx) => { return [o.amount; }'; }));
        expect(issue.path).to.equal(`/vertices/2/${field}`);
        expect(issue.message).to.match(/^the user function does not compile: SyntaxError: /);
      });

      it(`requires ${field}, at its path`, () => {
        expect(onlyIssue(broken((d) => { delete d.vertices[2][field]; })))
          .to.deep.equal({ path: `/vertices/2/${field}`, message: `is required by operator 'coProcess'` });
      });
    }

    it('reports an uncompilable fn1 and fn2 together, each at its own path', () => {
      const issues = issuesOf(broken((d) => { d.vertices[2].fn1 = '(('; d.vertices[2].fn2 = 'x =>> 1'; }));
      expect(issues.map((i) => i.path)).to.deep.equal(['/vertices/2/fn1', '/vertices/2/fn2']);
    });

    it('does not take fn, as process does: it names the properties coProcess takes', () => {
      const issue = onlyIssue(broken((d) => { d.vertices[2].fn = '(x) => [x]'; }));
      expect(issue.path).to.equal('/vertices/2/fn');
      expect(issue.message).to.match(/^unknown property for operator 'coProcess'; it takes: .*fn1, fn2$/);
    });
  });

  describe('from the API: a.connect(b).keyBy(key1, key2).process(fn1, fn2)', () => {
    interface Order { account: string; amount: number }
    interface Payment { payer: { account: string }; amount: number }

    function build(env: StreamExecutionEnvironment): void {
      const orders = env.fromElements<Order>({ account: 'a', amount: 3 });
      const payments = env.fromElements<Payment>({ payer: { account: 'a' }, amount: 5 });
      orders.connect(payments)
        .keyBy('account', (p: Payment) => p.payer.account)
        .process(
          function ship(o: Order, ctx) { return [[ctx.key, -o.amount]]; },
          function pay(p: Payment, ctx) { return [[ctx.key, p.amount]]; },
          { uid: 'balance', parallelism: 3 })
        .collect({ uid: 'out' });
    }

    it('gives a coProcess vertex with fn1 and fn2, and two hash edges with their keys, marked input 1 and 2', async () => {
      const env = new StreamExecutionEnvironment(undefined, { parallelism: 2 });
      build(env);
      const d = env.getDescriptor('accounts');
      const vertex = d.vertices.find((v) => v.id === 'balance')!;
      expect(vertex).to.include({ operator: 'coProcess', name: 'ship/pay', parallelism: 3 });
      const edges = d.edges.filter((e) => e.to === 'balance');
      expect(edges.map(({ key, ...rest }) => rest)).to.deep.equal([
        { from: 'source-elements-1', to: 'balance', partition: 'hash', input: 1 },
        { from: 'source-elements-2', to: 'balance', partition: 'hash', input: 2 },
      ]);
      expect(edges[0]!.key).to.deep.equal({ field: 'account' });
      // Functions travel as source text (as the test runner compiled it): run them to see which is which.
      const compiled = async (fn: unknown) => instantiateUserFunction(fn as string, {}, 'spec');
      const key2 = await compiled((edges[1]!.key as { fn: unknown }).fn);
      expect(key2({ payer: { account: 'z' }, amount: 1 })).to.equal('z');
      const fn1 = await compiled((vertex as { fn1: unknown }).fn1);
      const fn2 = await compiled((vertex as { fn2: unknown }).fn2);
      expect(fn1({ account: 'a', amount: 3 }, { key: 'a' })).to.deep.equal([['a', -3]]);
      expect(fn2({ payer: { account: 'a' }, amount: 5 }, { key: 'a' })).to.deep.equal([['a', 5]]);
      const result = validateDescriptor(JSON.parse(JSON.stringify(d)));
      if (!result.ok) expect.fail(JSON.stringify(result.issues));
    });

    it('keys by an index, or by a module function; and names an operator of anonymous functions coProcess', () => {
      const env = new StreamExecutionEnvironment();
      const a = env.fromElements<[string, number]>(['a', 1]);
      const b = env.fromElements<{ id: string }>({ id: 'a' });
      a.connect(b).keyBy(0, { module: '@acme/keys', export: 'idOf' }).process(() => [], () => []).print();
      const d = env.getDescriptor();
      expect(d.vertices[2]).to.include({ operator: 'coProcess', name: 'coProcess' });
      expect(d.edges.slice(0, 2).map((e) => [e.partition, e.key, e.input])).to.deep.equal([
        ['hash', { field: 0 }, 1], ['hash', { fn: { module: '@acme/keys', export: 'idOf' } }, 2],
      ]);
      expect(validateDescriptor(d).ok).to.equal(true);
    });

    it('keys by hash whatever partitioning the streams had before connect', () => {
      const env = new StreamExecutionEnvironment(undefined, { parallelism: 2 });
      const a = env.fromElements({ k: 1 }).rebalance();
      const b = env.fromElements({ k: 1 }).broadcast();
      a.connect(b).keyBy('k', 'k').process(() => [], () => []).collect();
      const d = env.getDescriptor();
      expect(d.edges.slice(0, 2).map((e) => [e.partition, e.key, e.input])).to.deep.equal([
        ['hash', { field: 'k' }, 1], ['hash', { field: 'k' }, 2],
      ]);
      expect(validateDescriptor(d).ok).to.equal(true);
    });

    it('refuses a function that is not one, naming fn1 or fn2', () => {
      const env = new StreamExecutionEnvironment();
      const keyed = env.fromElements(1).connect(env.fromElements('a')).keyBy((x) => x, (y) => y);
      const refused = (action: () => unknown, pattern: RegExp): void => {
        expect(action).to.throw(CloudflinkError, pattern);
      };
      refused(() => keyed.process(42 as never, () => []), /^connect\(\)\.keyBy\(\)\.process\(\) fn1 expects a function/);
      refused(() => keyed.process(() => [], 'x' as never), /^connect\(\)\.keyBy\(\)\.process\(\) fn2 expects a function/);
    });

    it('connects a stream with itself (as Flink allows) into a descriptor that validates', () => {
      const env = new StreamExecutionEnvironment();
      const events = env.fromElements({ k: 'a', n: 1 });
      events.connect(events).keyBy('k', 'k').process(() => [], () => []).collect();
      const result = validateDescriptor(env.getDescriptor('self'));
      if (!result.ok) expect.fail(`the API built a descriptor its own validator rejects: ${JSON.stringify(result.issues)}`);
    });
  });
});
