import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { StreamExecutionEnvironment, type DataStream, type ProcessContext } from '../../lib/api/index.ts';
import { ClusterClient } from '../../lib/client/index.ts';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import type { JobStateEvent } from '../../lib/events/types.ts';
import { subtaskForKeyGroup } from '../../lib/partition/index.ts';
import { expectRecoveredFromKill, useProcessCluster } from '../helpers/cluster.ts';
import { checkCounting } from '../helpers/counting.ts';
import { eventually, range, type TestNats } from '../helpers/nats.ts';
import { prng } from '../helpers/random.ts';

const MAX_P = 128;

// ---- the job: orders and payments of accounts, two record shapes keyed alike, one balance per account ----

interface Order { orderId: number; account: number; amount: number }
interface Payment { paymentId: number; payer: { account: number }; amount: number }
type Step =
  | { account: number; seq: number; order: number; shipped: boolean; balance: number }
  | { account: number; seq: number; payment: number; released: number[]; balance: number };

/**
 * fn1: an order ships if the account's balance covers it, else it waits in the account's `held`
 * list. fn2: a payment raises the balance and ships the held orders it now covers, oldest first.
 * Both count the account's records in `seq`, so each output says where it came in the key's order.
 */
function shipOrder(order: Order, ctx: ProcessContext<number>): Step[] {
  const seq = ctx.state.value<number>('seq');
  seq.update((seq.value() ?? 0) + 1);
  const balance = ctx.state.value<number>('balance');
  const b = balance.value() ?? 0;
  if (b >= order.amount) {
    balance.update(b - order.amount);
    return [{ account: ctx.key, seq: seq.value()!, order: order.orderId, shipped: true, balance: b - order.amount }];
  }
  ctx.state.list<Order>('held').add(order);
  return [{ account: ctx.key, seq: seq.value()!, order: order.orderId, shipped: false, balance: b }];
}

function pay(payment: Payment, ctx: ProcessContext<number>): Step[] {
  const seq = ctx.state.value<number>('seq');
  seq.update((seq.value() ?? 0) + 1);
  const balance = ctx.state.value<number>('balance');
  const held = ctx.state.list<Order>('held');
  let b = (balance.value() ?? 0) + payment.amount;
  const waiting = held.get();
  let released = 0;
  while (released < waiting.length && waiting[released]!.amount <= b) b -= waiting[released++]!.amount;
  balance.update(b);
  if (released === waiting.length) held.clear();
  else if (released > 0) held.update(waiting.slice(released));
  return [{ account: ctx.key, seq: seq.value()!, payment: payment.paymentId, released: waiting.slice(0, released).map((o) => o.orderId), balance: b }];
}

function build(orders: DataStream<Order>, payments: DataStream<Payment>): DataStream<Step> {
  return orders.connect(payments)
    // K is not inferred from the selectors (ctx.key would be unknown), so it is given.
    .keyBy<number>('account', (p: Payment) => p.payer.account)
    .process(shipOrder, pay, { uid: 'balance' });
}

/** The same rules as a plain loop, over one account's records in one order. */
function replay(account: number, records: (Order | Payment)[]): Step[] {
  let balance = 0;
  const held: Order[] = [];
  return records.map((record, i): Step => {
    const seq = i + 1;
    if ('orderId' in record) {
      if (balance >= record.amount) {
        balance -= record.amount;
        return { account, seq, order: record.orderId, shipped: true, balance };
      }
      held.push(record);
      return { account, seq, order: record.orderId, shipped: false, balance };
    }
    balance += record.amount;
    const released: number[] = [];
    while (held.length > 0 && held[0]!.amount <= balance) {
      const order = held.shift()!;
      balance -= order.amount;
      released.push(order.orderId);
    }
    return { account, seq, payment: record.paymentId, released, balance };
  });
}

interface Inputs {
  orders: Order[];
  payments: Payment[];
  /** The parallelism of each source: which subtask emitted a record, in what order, follows from it. */
  ordersParallelism: number;
  paymentsParallelism: number;
}

/** Element or generator index i is in split i mod 128, read by the subtask owning that split (its key-group range). */
const sourceSubtask = (index: number, parallelism: number): number => subtaskForKeyGroup(index % MAX_P, MAX_P, parallelism);

/**
 * Checks the engine's steps without fixing the order of records. How one account's orders and
 * payments interleave depends on how the two inputs (and, above parallelism 1, the source
 * subtasks) reach its subtask, which the network decides; so there is no single expected list.
 * What is fixed: the operator handles one account's records one at a time on one state, so its
 * steps must be exactly the plain loop's over SOME interleaving of the account's records, each
 * once, that keeps the order of every channel (a source subtask emits its records in ascending
 * index, and a channel is FIFO). `seq` in each step says which interleaving the engine took:
 * the check reads it off, validates it, and replays the plain loop over it; balances, shipped
 * flags and released orders must then match exactly.
 */
function checkSteps(steps: Step[], inputs: Inputs): { shipped: number; released: number } {
  const { orders, payments } = inputs;
  expect(steps.length, 'one step per record of either stream').to.equal(orders.length + payments.length);
  const byAccount = new Map<number, Step[]>();
  for (const step of steps) {
    const list = byAccount.get(step.account);
    if (list) list.push(step);
    else byAccount.set(step.account, [step]);
  }
  const expectedAccounts = new Set([...orders.map((o) => o.account), ...payments.map((p) => p.payer.account)]);
  expect([...byAccount.keys()].sort((a, b) => a - b)).to.deep.equal([...expectedAccounts].sort((a, b) => a - b));

  const ordersOf = groupBy(orders, (o) => o.account);
  const paymentsOf = groupBy(payments, (p) => p.payer.account);
  let shipped = 0;
  let released = 0;
  for (const [account, list] of byAccount) {
    list.sort((a, b) => a.seq - b.seq);
    expect(list.map((s) => s.seq), `account ${account}: seq 1..n, each once`).to.deep.equal(range(list.length).map((i) => i + 1));
    const own = [...(ordersOf.get(account) ?? []).map((o) => `o${o.orderId}`), ...(paymentsOf.get(account) ?? []).map((p) => `p${p.paymentId}`)];
    const taken = list.map((s) => ('order' in s ? `o${s.order}` : `p${s.payment}`));
    expect([...taken].sort(), `account ${account}: each of its records once`).to.deep.equal(own.sort());

    // Every channel's order kept: per stream and source subtask, ascending index.
    const last = new Map<string, number>();
    for (const s of list) {
      const [id, channel] = 'order' in s
        ? [s.order, `orders/${sourceSubtask(s.order, inputs.ordersParallelism)}`]
        : [s.payment, `payments/${sourceSubtask(s.payment, inputs.paymentsParallelism)}`];
      expect(id, `account ${account}: ${channel} in the order it was emitted`).to.be.greaterThan(last.get(channel) ?? -1);
      last.set(channel, id);
    }

    const records = list.map((s) => ('order' in s ? orders[s.order]! : payments[s.payment]!));
    expect(list, `account ${account}`).to.deep.equal(replay(account, records));
    for (const s of list) {
      if ('shipped' in s && s.shipped) shipped++;
      if ('released' in s) released += s.released.length;
    }
  }
  return { shipped, released };
}

function groupBy<T>(items: T[], keyOf: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const group = groups.get(keyOf(item));
    if (group) group.push(item);
    else groups.set(keyOf(item), [item]);
  }
  return groups;
}

/**
 * Orders that shipped at once spent a balance only payments (fn2) raise; orders released by a
 * payment were held by fn1. Either way state crossed from one input's function to the other's,
 * and which of the two happens more depends on the interleaving, so only their sum is asked for.
 */
function expectCrossing({ shipped, released }: { shipped: number; released: number }, orders: number): void {
  expect(shipped + released, `orders shipped on payments' money (${shipped}) or released by a payment (${released})`).to.be.greaterThan(orders / 2);
}

// ---- seeded inputs ----

/** Random accounts and amounts; ids are positions, so that a step names its record. */
function seededInputs(seed: number, orderCount: number, paymentCount: number, accounts: number): { orders: Order[]; payments: Payment[] } {
  const random = prng(seed);
  const orders = range(orderCount).map((orderId) => ({ orderId, account: Math.floor(random() * accounts), amount: 1 + Math.floor(random() * 50) }));
  const payments = range(paymentCount).map((paymentId) => ({ paymentId, payer: { account: Math.floor(random() * accounts) }, amount: 1 + Math.floor(random() * 60) }));
  return { orders, payments };
}

/**
 * The generators of the kill run: record i is of account i mod `accounts` (so every account has
 * the same number of records, as checkCounting wants), with an amount from draw i of
 * prng(seed), computed directly (mulberry32 is a counter hash) so that any subtask can make it.
 */
function generatedOrder(i: number): Order {
  const p = params as { orderSeed: number; accounts: number };
  let t = (p.orderSeed + (i + 1) * 0x6d2b79f5) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { orderId: i, account: i % p.accounts, amount: 1 + Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 50) };
}

function generatedPayment(i: number): Payment {
  const p = params as { paymentSeed: number; accounts: number };
  let t = (p.paymentSeed + (i + 1) * 0x6d2b79f5) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { paymentId: i, payer: { account: i % p.accounts }, amount: 1 + Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 60) };
}

/** What the generators make, drawn from the prng helper itself. */
function generatedInputs(orderSeed: number, paymentSeed: number, count: number, accounts: number): { orders: Order[]; payments: Payment[] } {
  const orderDraws = prng(orderSeed);
  const paymentDraws = prng(paymentSeed);
  return {
    orders: range(count).map((orderId) => ({ orderId, account: orderId % accounts, amount: 1 + Math.floor(orderDraws() * 50) })),
    payments: range(count).map((paymentId) => ({ paymentId, payer: { account: paymentId % accounts }, amount: 1 + Math.floor(paymentDraws() * 60) })),
  };
}

/** A committed line of the exactly-once files: `account seq o<id> balance shipped|held` or `account seq p<id> balance <released,…|->`. */
function line(step: Step): string {
  return 'order' in step
    ? `${step.account} ${step.seq} o${step.order} ${step.balance} ${step.shipped ? 'shipped' : 'held'}`
    : `${step.account} ${step.seq} p${step.payment} ${step.balance} ${step.released.length === 0 ? '-' : step.released.join(',')}`;
}

function parse(text: string): Step {
  const [account, seq, id, balance, rest] = text.split(' ') as [string, string, string, string, string];
  const common = { account: Number(account), seq: Number(seq) };
  return id.startsWith('o')
    ? { ...common, order: Number(id.slice(1)), shipped: rest === 'shipped', balance: Number(balance) }
    : { ...common, payment: Number(id.slice(1)), released: rest === '-' ? [] : rest.split(',').map(Number), balance: Number(balance) };
}

function committedSteps(directory: string): Step[] {
  return readdirSync(directory).filter((f) => f.startsWith('part-'))
    .flatMap((f) => readFileSync(join(directory, f), 'utf8').split('\n').filter(Boolean).map(parse));
}

describe('keyed co-process on a cluster of real processes (orders and payments per account)', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  // 2 TMs × 2 slots: a job of parallelism 4 takes them all, and a killed TM is replaced at once.
  useProcessCluster('coproc', 2, 2, (started) => ({ nats, cluster, client } = started));
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-coproc-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('computes the generators of the kill run as the prng helper draws', () => {
    const drawn = generatedInputs(5, 6, 300, 7);
    (globalThis as { params?: unknown }).params = { orderSeed: 5, paymentSeed: 6, accounts: 7 };
    try {
      expect(range(300).map(generatedOrder)).to.deep.equal(drawn.orders);
      expect(range(300).map(generatedPayment)).to.deep.equal(drawn.payments);
    } finally {
      delete (globalThis as { params?: unknown }).params;
    }
  });

  for (const [parallelism, seed] of [[1, 101], [4, 202]] as const) {
    it(`gives the plain loop's steps over the interleaving it took, per account, at parallelism ${parallelism} (seed ${seed})`, async () => {
      const { orders, payments } = seededInputs(seed, 3000, 2500, 60);
      const paymentsParallelism = parallelism === 1 ? 1 : 3;
      const env = new StreamExecutionEnvironment(client, { parallelism });
      build(
        env.fromCollection(orders, { uid: 'orders' }),
        env.fromCollection(payments, { uid: 'payments', parallelism: paymentsParallelism }),
      ).collect({ uid: 'out' });
      const result = await (await env.execute(`co-process-${parallelism}`)).result();
      expect(result.state, result.cause).to.equal('FINISHED');
      const balance = result.vertices.filter((v) => v.vertexId === 'balance');
      expect(balance.reduce((n, v) => n + v.recordsIn, 0), 'records into the co-process').to.equal(orders.length + payments.length);

      expectCrossing(checkSteps(result.collected.out as Step[], { orders, payments, ordersParallelism: parallelism, paymentsParallelism }), orders.length);
    });
  }

  it('connects a stream with itself: every record reaches fn1 and fn2, which count into one state per key', async () => {
    const random = prng(404);
    const events = range(2000).map((id) => ({ id, k: `k${Math.floor(random() * 25)}` }));
    const env = new StreamExecutionEnvironment(client, { parallelism: 4 });
    const stream = env.fromCollection(events, { uid: 'events' });
    stream.connect(stream).keyBy('k', 'k').process(
      function first(e: { id: number; k: string }, ctx) { const n = ctx.state.value<number>('n'); n.update((n.value() ?? 0) + 1); return [[ctx.key, 1, e.id, n.value()]]; },
      function second(e: { id: number; k: string }, ctx) { const n = ctx.state.value<number>('n'); n.update((n.value() ?? 0) + 1); return [[ctx.key, 2, e.id, n.value()]]; },
    ).collect({ uid: 'out' });
    const result = await (await env.execute('co-process-self')).result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const out = result.collected.out as [string, 1 | 2, number, number][];
    // Whatever the interleaving, a key of n records counts 1..2n, once each, and each record is seen by both functions.
    for (const [key, ofKey] of groupBy(events, (e) => Number(e.k.slice(1)))) {
      const ids = ofKey.map((e) => e.id);
      const mine = out.filter(([k]) => k === `k${key}`);
      expect(mine.map(([, , , n]) => n).sort((a, b) => a - b), `k${key}`).to.deep.equal(range(2 * ids.length).map((i) => i + 1));
      for (const side of [1, 2]) expect(mine.filter(([, s]) => s === side).map(([, , id]) => id).sort((a, b) => a - b), `k${key} by fn${side}`).to.deep.equal(ids);
    }
    expect(out).to.have.length(2 * events.length);
  });

  it('keeps exactly-once steps through a Task Manager killed with kill -9, restoring the shared state from a checkpoint', async () => {
    const random = prng(303);
    const COUNT = 120_000;
    const ACCOUNTS = 400;
    const knobs = { orderSeed: 31, paymentSeed: 32, accounts: ACCOUNTS };
    const { orders, payments } = generatedInputs(knobs.orderSeed, knobs.paymentSeed, COUNT, ACCOUNTS);
    const output = join(dir, 'kill');

    const env = new StreamExecutionEnvironment(client, { parallelism: 4, params: knobs });
    env.enableCheckpointing(200);
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 10, delayMs: 200 });
    // Paced to a few seconds, so that the kill lands while records flow and checkpoints complete.
    build(
      env.generate(COUNT, generatedOrder, { uid: 'orders', ratePerSecond: 40_000 }),
      env.generate(COUNT, generatedPayment, { uid: 'payments', ratePerSecond: 40_000 }),
    ).map(line, { uid: 'format' }).sinkToFiles(output, { uid: 'files' });
    const handle = await env.execute('co-process-kill');
    await eventually(async () => (await client.status(handle.jobId)).state === 'RUNNING', 'the job to run');
    await new Promise((r) => setTimeout(r, 500 + random() * 1000));
    const victim = `tm-${1 + Math.floor(random() * 2)}`;
    cluster.taskManagers.get(victim)!.kill('SIGKILL');
    await cluster.startTaskManager(victim);

    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const outcome = checkCounting(output, ACCOUNTS, (2 * COUNT) / ACCOUNTS);
    expect(outcome.duplicates, 'steps committed twice').to.equal(0);
    expect(outcome.wrongKeys, 'accounts with steps lost or repeated').to.deep.equal([]);
    expect(outcome.lines).to.equal(2 * COUNT);
    expectCrossing(checkSteps(committedSteps(output), { orders, payments, ordersParallelism: 4, paymentsParallelism: 4 }), COUNT);

    const events = await expectRecoveredFromKill(client, handle, victim);
    expect(events.filter((e): e is JobStateEvent => e.type === 'job.state').at(-1)!.to).to.equal('FINISHED');
  });
});
