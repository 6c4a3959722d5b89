import { expect } from 'chai';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { validateDescriptor, type JobDescriptor } from '../../../../lib/descriptor/index.ts';
import { canonicalKey, subtaskForKey } from '../../../../lib/partition/index.ts';
import { KeyedStateBackend, type KeyedStateStore } from '../../../../lib/state/index.ts';
import { createOperatorLogic } from '../../../../actors/operator/logic/index.ts';
import { coProcessLogic } from '../../../../actors/operator/logic/transforms.ts';
import type { ChannelSpec, TaskDeployment } from '../../../../actors/operator/protocol.ts';
import type { OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { fn, runWithInputs as run, thrownBy, type Input, MAX_P, backend, viaWire } from '../../../helpers/logic.ts';
import { prng } from '../../../helpers/random.ts';

interface Ctx { key: unknown; state: KeyedStateStore }

function expectError(action: () => unknown, code: string, pattern: RegExp): void {
  const caught = thrownBy(action);
  expect(caught).to.be.instanceOf(CloudflinkError);
  expect((caught as CloudflinkError).code).to.equal(code);
  expect((caught as Error).message).to.match(pattern);
}

// ---- orders and payments of accounts: two record shapes, keyed alike, one balance per account ----

interface Order { orderId: number; account: string; amount: number }
interface Payment { paymentId: number; payer: { account: string }; amount: number }
type Step =
  | { account: string; order: number; shipped: boolean; balance: number }
  | { account: string; payment: number; released: number[]; balance: number };

const orderKey = (r: unknown): unknown => (r as Order).account;
const paymentKey = (r: unknown): unknown => (r as Payment).payer.account;

/**
 * An order ships if the balance covers it, else waits in the account's `held` list; a payment
 * raises the balance and ships the held orders it now covers, oldest first, until one does not fit.
 */
function shipOrder(order: Order, ctx: Ctx): Step[] {
  const balance = ctx.state.value<number>('balance');
  const b = balance.value() ?? 0;
  if (b >= order.amount) {
    balance.update(b - order.amount);
    return [{ account: ctx.key as string, order: order.orderId, shipped: true, balance: b - order.amount }];
  }
  ctx.state.list<Order>('held').add(order);
  return [{ account: ctx.key as string, order: order.orderId, shipped: false, balance: b }];
}

function pay(payment: Payment, ctx: Ctx): Step[] {
  const balance = ctx.state.value<number>('balance');
  const held = ctx.state.list<Order>('held');
  let b = (balance.value() ?? 0) + payment.amount;
  const waiting = held.get();
  let released = 0;
  while (released < waiting.length && waiting[released]!.amount <= b) b -= waiting[released++]!.amount;
  balance.update(b);
  if (released === waiting.length) held.clear();
  else if (released > 0) held.update(waiting.slice(released));
  return [{ account: ctx.key as string, payment: payment.paymentId, released: waiting.slice(0, released).map((o) => o.orderId), balance: b }];
}

const accounts = (): OperatorLogic => coProcessLogic([fn(shipOrder), fn(pay)], [orderKey, paymentKey], backend());

/** The same rules as a plain loop over one map of accounts. */
function reference(records: [Order | Payment, 1 | 2][]): Step[][] {
  const books = new Map<string, { balance: number; held: Order[] }>();
  return records.map(([record, input]) => {
    const account = input === 1 ? (record as Order).account : (record as Payment).payer.account;
    const book = books.get(account) ?? { balance: 0, held: [] };
    books.set(account, book);
    if (input === 1) {
      const order = record as Order;
      if (book.balance >= order.amount) {
        book.balance -= order.amount;
        return [{ account, order: order.orderId, shipped: true, balance: book.balance }];
      }
      book.held.push(order);
      return [{ account, order: order.orderId, shipped: false, balance: book.balance }];
    }
    book.balance += record.amount;
    const released: number[] = [];
    while (book.held.length > 0 && book.held[0]!.amount <= book.balance) {
      const order = book.held.shift()!;
      book.balance -= order.amount;
      released.push(order.orderId);
    }
    return [{ account, payment: (record as Payment).paymentId, released, balance: book.balance }];
  });
}

/** Orders and payments of `accountCount` accounts, interleaved at random. */
function ledger(seed: number, length: number, accountCount = 12): [Order | Payment, 1 | 2][] {
  const random = prng(seed);
  return Array.from({ length }, (_, i): [Order | Payment, 1 | 2] => {
    const account = `acct-${Math.floor(random() * accountCount)}`;
    const amount = 1 + Math.floor(random() * 50);
    return random() < 0.55 ? [{ orderId: i, account, amount }, 1] : [{ paymentId: i, payer: { account }, amount }, 2];
  });
}

/** How many orders waited for a payment and then shipped: the two inputs met in one state. */
const releasedCount = (steps: unknown[][]): number =>
  steps.flat().reduce((n: number, s) => n + ((s as { released?: number[] }).released?.length ?? 0), 0);

describe('coProcessLogic', () => {
  describe('routing', () => {
    it('calls fn1 for input 1 and fn2 for input 2, each with its record and a context', () => {
      const calls: [string, unknown, unknown][] = [];
      const logic = coProcessLogic(
        [fn((r: unknown, ctx: Ctx) => { calls.push(['fn1', r, ctx.key]); }), fn((r: unknown, ctx: Ctx) => { calls.push(['fn2', r, ctx.key]); })],
        [(r) => (r as { a: string }).a, (r) => (r as { b: string }).b], backend());
      run(logic, [[{ a: 'x' }, 1], [{ b: 'y' }, 2], [{ a: 'z' }, 1]]);
      expect(calls).to.deep.equal([['fn1', { a: 'x' }, 'x'], ['fn2', { b: 'y' }, 'y'], ['fn1', { a: 'z' }, 'z']]);
    });

    it('takes a record without an input to be of input 1', () => {
      const logic = coProcessLogic([fn(() => ['one']), fn(() => ['two'])], [() => 'k', () => 'k'], backend());
      expect(run(logic, [['a', undefined], ['b', 2], ['c', undefined]])).to.deep.equal([['one'], ['two'], ['one']]);
    });

    it('routes every record of a seeded interleaving to its own function, in order', () => {
      for (const seed of [1, 2, 3]) {
        const random = prng(seed);
        const records = Array.from({ length: 400 }, (_, i): [unknown, Input] => {
          const input = ([1, 2, undefined] as const)[Math.floor(random() * 3)];
          return [input === 2 ? { n: i } : { s: `r${i}` }, input];
        });
        const logic = coProcessLogic(
          [fn((r: { s: string }) => [`fn1 ${r.s}`]), fn((r: { n: number }) => [`fn2 ${r.n}`])],
          [(r) => (r as { s: string }).s, (r) => (r as { n: number }).n], backend());
        const expected = records.map(([r, input]) => [input === 2 ? `fn2 ${(r as { n: number }).n}` : `fn1 ${(r as { s: string }).s}`]);
        expect(run(logic, records), `seed ${seed}`).to.deep.equal(expected);
      }
    });

    it('lets an error of either function through as it was thrown', () => {
      const boom1 = new Error('fn1 broke');
      const boom2 = new TypeError('fn2 broke');
      const logic = coProcessLogic([fn(() => { throw boom1; }), fn(() => { throw boom2; })], [() => 1, () => 1], backend());
      expect(thrownBy(() => run(logic, [['a', 1]]))).to.equal(boom1);
      expect(thrownBy(() => run(logic, [['a', 2]]))).to.equal(boom2);
    });
  });

  describe('keys', () => {
    it('selects the key of each record with the selector of its own input', () => {
      const selected: string[] = [];
      const logic = coProcessLogic(
        [fn((_: unknown, ctx: Ctx) => [ctx.key]), fn((_: unknown, ctx: Ctx) => [ctx.key])],
        [(r) => { selected.push('key1'); return (r as Order).account; }, (r) => { selected.push('key2'); return (r as Payment).payer.account; }],
        backend());
      const out = run(logic, [
        [{ orderId: 1, account: 'a', amount: 1 }, 1],
        [{ paymentId: 2, payer: { account: 'b' }, amount: 1 }, 2],
        [{ orderId: 3, account: 'c', amount: 1 }, undefined],
      ]);
      expect(out).to.deep.equal([['a'], ['b'], ['c']]);
      expect(selected, 'one selection per record, by its input').to.deep.equal(['key1', 'key2', 'key1']);
    });

    it('gives ctx.key as the selector returned it, and treats equal composite keys of the two inputs as one key', () => {
      const logic = coProcessLogic(
        [fn((_: unknown, ctx: Ctx) => { const n = ctx.state.value<number>('n'); n.update((n.value() ?? 0) + 1); return [[ctx.key, n.value()]]; }),
          fn((_: unknown, ctx: Ctx) => { const n = ctx.state.value<number>('n'); n.update((n.value() ?? 0) + 1); return [[ctx.key, n.value()]]; })],
        // Input 1 keys by an object, input 2 builds an equal one with its fields in the other order.
        [(r) => ({ region: (r as { r: string }).r, id: (r as { i: number }).i }), (r) => ({ id: (r as { id: number }).id, region: (r as { region: string }).region })],
        backend());
      const out = run(logic, [[{ r: 'eu', i: 7 }, 1], [{ id: 7, region: 'eu' }, 2], [{ id: 7, region: 'us' }, 2]]).flat();
      expect(out).to.deep.equal([[{ region: 'eu', id: 7 }, 1], [{ id: 7, region: 'eu' }, 2], [{ id: 7, region: 'us' }, 1]]);
    });

    it('fails clearly when a record of either input reaches a subtask that does not own its key', () => {
      const random = prng(4);
      const key = Array.from({ length: 100 }, () => `k${Math.floor(random() * 1e6)}`).find((k) => subtaskForKey(canonicalKey(k), MAX_P, 2) === 1)!;
      for (const input of [1, 2] as const) {
        const logic = coProcessLogic([fn(() => []), fn(() => [])], [(r) => r, (r) => r], backend(0, 2));
        expectError(() => run(logic, [[key, input]]), 'INTERNAL', /outside this subtask's key groups \[0, 64\).*routed to the wrong subtask/);
      }
    });
  });

  describe('one keyed state for both inputs', () => {
    it('lets fn2 read and change what fn1 stored for the same key', () => {
      const logic = coProcessLogic(
        [fn((r: { k: string; v: string }, ctx: Ctx) => { ctx.state.value<string>('last').update(r.v); ctx.state.list<string>('seen').add(`1:${r.v}`); }),
          fn((r: { k: string }, ctx: Ctx) => {
            const seen = ctx.state.list<string>('seen');
            seen.add('2');
            return [{ key: ctx.key, last: ctx.state.value<string>('last').value(), seen: seen.get() }];
          })],
        [(r) => (r as { k: string }).k, (r) => (r as { k: string }).k], backend());
      const out = run(logic, [[{ k: 'a', v: 'x' }, 1], [{ k: 'a', v: 'y' }, 1], [{ k: 'a' }, 2], [{ k: 'a', v: 'z' }, 1], [{ k: 'a' }, 2]]).flat();
      expect(out).to.deep.equal([
        { key: 'a', last: 'y', seen: ['1:x', '1:y', '2'] },
        { key: 'a', last: 'z', seen: ['1:x', '1:y', '2', '1:z', '2'] },
      ]);
    });

    it('keeps the state of each key apart, whichever input wrote it', () => {
      const logic = coProcessLogic(
        [fn((r: { k: string; v: number }, ctx: Ctx) => { ctx.state.value<number>('v').update(r.v); }),
          fn((r: { k: string }, ctx: Ctx) => [`${r.k}=${String(ctx.state.value<number>('v').value())}`])],
        [(r) => (r as { k: string }).k, (r) => (r as { k: string }).k], backend());
      const out = run(logic, [[{ k: 'a', v: 1 }, 1], [{ k: 'b', v: 2 }, 1], [{ k: 'a' }, 2], [{ k: 'b' }, 2], [{ k: 'c' }, 2]]).flat();
      expect(out).to.deep.equal(['a=1', 'b=2', 'c=undefined']);
    });

    it('gives both functions the same state store, scoped to the key of the record at hand', () => {
      const stores = new Set<KeyedStateStore>();
      const state = backend();
      const keys: unknown[] = [];
      const logic = coProcessLogic(
        [fn((_: unknown, ctx: Ctx) => { stores.add(ctx.state); keys.push(state.currentKey); }), fn((_: unknown, ctx: Ctx) => { stores.add(ctx.state); keys.push(state.currentKey); })],
        [(r) => `one-${String(r)}`, (r) => `two-${String(r)}`], state);
      run(logic, [[1, 1], [2, 2], [3, 1]]);
      expect([...stores]).to.deep.equal([state.store]);
      expect(keys).to.deep.equal(['one-1', 'two-2', 'one-3']);
    });

    it('matches a plain loop over seeded orders and payments: balances shared by both inputs, per account', () => {
      for (const seed of [5, 6, 7]) {
        const records = ledger(seed, 2000);
        const expected = reference(records);
        const logic = accounts();
        expect(run(logic, records), `seed ${seed}`).to.deep.equal(expected);
        expect(releasedCount(expected), `seed ${seed}: orders held by fn1 and released by fn2`).to.be.greaterThan(100);
      }
    });
  });

  describe('outputs', () => {
    it('emits every element of an array, a generator, a Set or another iterable, in order, from either function', () => {
      const logic = coProcessLogic(
        [fn(function* (n: number) { for (let i = 0; i < n; i++) yield -i; }), fn((x: string) => new Set([x, x, `${x}!`]))],
        [() => 'k', () => 'k'], backend());
      expect(run(logic, [[3, 1], ['a', 2], [0, 1]])).to.deep.equal([[-0, -1, -2], ['a', 'a!'], []]);
      const arrays = coProcessLogic([fn((x: number) => [x, x + 1]), fn(() => new Map([['j', 2]]))], [() => 'k', () => 'k'], backend());
      expect(run(arrays, [[1, 1], [0, 2]])).to.deep.equal([[1, 2], [['j', 2]]]);
    });

    it('emits nothing for undefined or null, from either function', () => {
      const logic = coProcessLogic([fn(() => undefined), fn(() => null)], [() => 'k', () => 'k'], backend());
      expect(run(logic, [['a', 1], ['b', 2]])).to.deep.equal([[], []]);
    });

    it('fails naming fn1 when fn1 returns something that is not iterable', () => {
      const logic = coProcessLogic([fn((x: unknown) => x), fn(() => [])], [() => 'k', () => 'k'], backend());
      expectError(() => run(logic, [[5, 1]]), 'UDF_FAILED', /^a coProcess function \(fn1\) must return an array or another iterable, not number 5$/);
      expectError(() => run(logic, [[{ a: 1 }, undefined]]), 'UDF_FAILED', /\(fn1\) must return an array or another iterable, not object \{"a":1\}/);
      expectError(() => run(logic, [[true, 1]]), 'UDF_FAILED', /\(fn1\).*not boolean true/);
    });

    it('fails naming fn2 when fn2 returns something that is not iterable', () => {
      const logic = coProcessLogic([fn(() => []), fn((x: unknown) => x)], [() => 'k', () => 'k'], backend());
      expectError(() => run(logic, [[7, 2]]), 'UDF_FAILED', /^a coProcess function \(fn2\) must return an array or another iterable, not number 7$/);
      expectError(() => run(logic, [[{ b: 2 }, 2]]), 'UDF_FAILED', /\(fn2\).*not object \{"b":2\}/);
    });

    it('does not take a string for an iterable of characters, from either function', () => {
      const logic = coProcessLogic([fn((x: unknown) => x), fn((x: unknown) => x)], [() => 'k', () => 'k'], backend());
      expectError(() => run(logic, [['abc', 1]]), 'UDF_FAILED', /\(fn1\).*not string abc/);
      expectError(() => run(logic, [['xyz', 2]]), 'UDF_FAILED', /\(fn2\).*not string xyz/);
    });
  });

  describe('state through a checkpoint', () => {
    it('survives a snapshot and a restore into a new backend, as an unbroken run', () => {
      const records = ledger(8, 1200);
      const expected = reference(records);
      for (const cut of [0, 1, 599, 1200]) {
        const first = backend();
        const before = run(coProcessLogic([fn(shipOrder), fn(pay)], [orderKey, paymentKey], first), records.slice(0, cut));
        const snapshot = viaWire(first.snapshot());
        // The old run goes on after the checkpoint and fails: what it did then is lost.
        run(coProcessLogic([fn(shipOrder), fn(pay)], [orderKey, paymentKey], first), records.slice(cut, cut + 100));
        const second = backend();
        second.restore([snapshot]);
        const after = run(coProcessLogic([fn(shipOrder), fn(pay)], [orderKey, paymentKey], second), records.slice(cut));
        expect([...before, ...after], `cut at ${cut}`).to.deep.equal(expected);
      }
    });

    it('holds what either input wrote in the snapshot, under the key both share', () => {
      const state = backend();
      const logic = coProcessLogic(
        [fn((r: { k: string }, ctx: Ctx) => { ctx.state.value<string>('from1').update(`one:${r.k}`); }),
          fn((r: { id: string }, ctx: Ctx) => { ctx.state.map<string, number>('from2').put(r.id, 2); })],
        [(r) => (r as { k: string }).k, (r) => (r as { id: string }).id], state);
      run(logic, [[{ k: 'a' }, 1], [{ id: 'a' }, 2], [{ id: 'b' }, 2]]);
      const restored = backend();
      restored.restore([viaWire(state.snapshot())]);
      expect(restored.size, 'a and b').to.equal(2);
      expect(restored.keys('from1')).to.deep.equal(['a']);
      restored.setCurrentKey('a');
      expect(restored.store.value('from1').value()).to.equal('one:a');
      expect(restored.store.map('from2').entries()).to.deep.equal([['a', 2]]);
    });

    it('moves with its key groups to another parallelism (1 → 3, 3 → 2, 2 → 4, 4 → 1), each record going by the key of its input', () => {
      const records = ledger(9, 1500, 40);
      const expected = reference(records);
      const keyOf = ([record, input]: [Order | Payment, 1 | 2]): string => (input === 1 ? orderKey(record) : paymentKey(record)) as string;
      for (const [from, to] of [[1, 3], [3, 2], [2, 4], [4, 1]] as const) {
        const cut = 777;
        // Each record goes to the subtask that owns its key, as the hash partitioner of its edge sends it.
        const runAt = (states: KeyedStateBackend[], parallelism: number, part: [Order | Payment, 1 | 2][]): unknown[][] => {
          const logics = states.map((state) => coProcessLogic([fn(shipOrder), fn(pay)], [orderKey, paymentKey], state));
          return part.map((r) => run(logics[subtaskForKey(canonicalKey(keyOf(r)), MAX_P, parallelism)]!, [r])[0]!);
        };
        const oldStates = Array.from({ length: from }, (_, i) => backend(i, from));
        const before = runAt(oldStates, from, records.slice(0, cut));
        const snapshots = oldStates.map((state) => viaWire(state.snapshot()));
        const newStates = Array.from({ length: to }, (_, i) => backend(i, to));
        for (const state of newStates) state.restore(snapshots);
        const after = runAt(newStates, to, records.slice(cut));
        expect([...before, ...after], `${from} → ${to}`).to.deep.equal(expected);
      }
    });
  });

  describe('built from a descriptor', () => {
    /** The coProcess vertex of a resolved descriptor, deployed as subtask 0 of 1 with its two inputs (input 2 listed first). */
    function deployment(fn1: string, fn2: string, params: Record<string, unknown>, inputs?: ChannelSpec[]): TaskDeployment {
      const descriptor: JobDescriptor = {
        apiVersion: 'cloudflink/v1', name: 'co', params,
        vertices: [
          { id: 'orders', operator: 'source.elements', elements: [] },
          { id: 'payments', operator: 'source.elements', elements: [] },
          { id: 'co', operator: 'coProcess', fn1, fn2 },
          { id: 'out', operator: 'sink.collect' },
        ],
        edges: [
          { from: 'orders', to: 'co', input: 1, partition: 'hash', key: { field: 'account' } },
          { from: 'payments', to: 'co', input: 2, partition: 'hash', key: { fn: '(p) => p.payer[params.keyField]' } },
          { from: 'co', to: 'out' },
        ],
      };
      const result = validateDescriptor(descriptor);
      if (!result.ok) return expect.fail(JSON.stringify(result.issues));
      const [one, two] = result.job.edges;
      return {
        jobId: 'job', jobName: 'co', attempt: 0, execution: 0, checkpointing: { enabled: false, mode: 'exactly-once' },
        vertex: result.job.vertices[2]!, subtask: 0, slot: 0, maxParallelism: MAX_P,
        inputs: inputs ?? [
          { edgeIndex: 1, peerVertexId: 'payments', peerParallelism: 1, partition: 'hash', key: two!.key, input: 2 },
          { edgeIndex: 0, peerVertexId: 'orders', peerParallelism: 1, partition: 'hash', key: one!.key, input: 1 },
        ],
        outputs: [{ edgeIndex: 2, peerVertexId: 'out', peerParallelism: 1, partition: 'forward' }],
        network: { frameRecords: 100 } as TaskDeployment['network'],
        collectLimit: 1000,
      };
    }

    it('keys each input by its own edge\'s key, and compiles fn1 and fn2 with the params in scope', async () => {
      const state = backend();
      const logic = await createOperatorLogic(deployment(
        '(o, ctx) => { const b = ctx.state.value("balance"); b.update((b.value() ?? 0) - o.amount); return [[params.tag, ctx.key, b.value()]]; }',
        '(p, ctx) => { const b = ctx.state.value("balance"); b.update((b.value() ?? 0) + p.amount); return [[params.tag, ctx.key, b.value()]]; }',
        { tag: 'T', keyField: 'account' }), state);
      const out = run(logic, [
        [{ account: 'a', amount: 5 }, 1],
        [{ payer: { account: 'a' }, amount: 8 }, 2],
        [{ payer: { account: 'b' }, amount: 1 }, 2],
        [{ account: 'b', amount: 4 }, 1],
      ]).flat();
      expect(out).to.deep.equal([['T', 'a', -5], ['T', 'a', 3], ['T', 'b', 1], ['T', 'b', -3]]);
      expect(state.keys('balance')).to.have.members(['a', 'b']);
    });

    it('names fn1 or fn2 of the vertex when a function returns something that is not iterable', async () => {
      const logic = await createOperatorLogic(deployment('() => 1', '() => "no"', { keyField: 'account' }), backend());
      expectError(() => run(logic, [[{ account: 'a' }, 1]]), 'UDF_FAILED', /\(fn1\).*not number 1/);
      expectError(() => run(logic, [[{ payer: { account: 'a' } }, 2]]), 'UDF_FAILED', /\(fn2\).*not string no/);
    });

    it('refuses to build when an input has no hash edge', async () => {
      const inputs: ChannelSpec[] = [
        { edgeIndex: 0, peerVertexId: 'orders', peerParallelism: 1, partition: 'hash', key: { field: 'account' }, input: 1 },
        { edgeIndex: 1, peerVertexId: 'payments', peerParallelism: 1, partition: 'forward', input: 2 },
      ];
      await expect(createOperatorLogic(deployment('() => []', '() => []', {}, inputs), backend()))
        .to.be.rejectedWith(/coProcess 'co' needs a keyed \(hash\) input/);
    });
  });
});
