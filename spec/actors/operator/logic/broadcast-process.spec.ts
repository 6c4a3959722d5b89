import { expect } from 'chai';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { canonicalKey, subtaskForKey } from '../../../../lib/partition/index.ts';
import { KeyedStateBackend, type KeyedStateSnapshot } from '../../../../lib/state/index.ts';
import {
  broadcastProcessLogic, type BroadcastKey, type BroadcastProcessContext, type BroadcastSideContext, type BroadcastState,
} from '../../../../actors/operator/logic/broadcast-process.ts';
import type { OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { fn, thrownBy, MAX_P, backend, viaWire } from '../../../helpers/logic.ts';
import { prng } from '../../../helpers/random.ts';

const VERTEX = 'rules-join';

function expectError(action: () => unknown, code: string, pattern: RegExp): void {
  const caught = thrownBy(action);
  expect(caught).to.be.instanceOf(CloudflinkError);
  expect((caught as CloudflinkError).code).to.equal(code);
  expect((caught as Error).message).to.match(pattern);
}

interface Emitted { record: unknown; timestamp: number | undefined; tag?: string }

/** One record into the logic; what it emitted, main and side outputs in the order they came. */
function feed(logic: OperatorLogic, record: unknown, input: 1 | 2 | undefined, timestamp?: number): Emitted[] {
  const out: Emitted[] = [];
  logic.process!(record, {
    emit: (r, t) => out.push({ record: r, timestamp: t }),
    emitTo: (tag, r, t) => out.push({ tag, record: r, timestamp: t }),
  }, input, timestamp);
  return out;
}

const records = (emitted: Emitted[]): unknown[] => emitted.map((e) => e.record);

// ---- rules broadcast to every subtask, events matched against them ----

interface Event { id: number; user: string; amount: number }
type Rule = { op: 'put'; rule: BroadcastKey; min: number } | { op: 'remove'; rule: BroadcastKey };
type Item = [Event, 1] | [Rule, 2];

/** Keys of every kind, some equal by value only (0 and -0) and some that only look alike ('1', 1, 1n, true). */
const RULE_KEYS: BroadcastKey[] = ['a', 'b', '1', 1, 2, 1n, 2n, true, false, 0, -0, 1.5];

const label = (key: unknown): string => `${typeof key}:${String(key)}`;

/** fn2: puts or removes one rule, and counts the changes in a second broadcast state. */
function updateRules(rule: Rule, ctx: BroadcastSideContext): string[] {
  const rules = ctx.broadcastState<BroadcastKey, number>('rules');
  if (rule.op === 'put') rules.put(rule.rule, rule.min);
  else rules.remove(rule.rule);
  const stats = ctx.broadcastState<string, number>('stats');
  stats.put('changes', (stats.get('changes') ?? 0) + 1);
  return [`${rule.op} ${label(rule.rule)}: ${rules.keys().length} rules`];
}

/** fn1: the rules the event's amount reaches, in the order the rules were first put; keyed, with the user's running count. */
function matchEvent(event: Event, ctx: BroadcastProcessContext): unknown[] {
  let n: number | undefined;
  if (ctx.state) {
    const count = ctx.state.value<number>('count');
    n = (count.value() ?? 0) + 1;
    count.update(n);
  }
  const changes = ctx.broadcastState<string, number>('stats').get('changes') ?? 0;
  return ctx.broadcastState<BroadcastKey, number>('rules').entries()
    .filter(([, min]) => event.amount >= min)
    .map(([rule]) => ({ id: event.id, user: ctx.key, rule: label(rule), n, changes }));
}

/** The same, as a plain loop over an array of rules and a record of counts. */
function reference(items: Item[], keyed: boolean): unknown[][] {
  const rules: [BroadcastKey, number][] = [];
  const counts: Record<string, number> = {};
  let changes = 0;
  return items.map(([record, input]) => {
    if (input === 2) {
      const at = rules.findIndex(([key]) => key === record.rule);
      if (record.op === 'put') {
        if (at >= 0) rules[at]![1] = record.min;
        else rules.push([record.rule, record.min]);
      } else if (at >= 0) {
        rules.splice(at, 1);
      }
      changes++;
      return [`${record.op} ${label(record.rule)}: ${rules.length} rules`];
    }
    const n = keyed ? (counts[record.user] = (counts[record.user] ?? 0) + 1) : undefined;
    return rules.filter(([, min]) => record.amount >= min)
      .map(([rule]) => ({ id: record.id, user: keyed ? record.user : undefined, rule: label(rule), n, changes }));
  });
}

/** Events of `users` users with rule changes among them, mostly puts. */
function stream(seed: number, length: number, users = 16): Item[] {
  const random = prng(seed);
  return Array.from({ length }, (_, id): Item => {
    if (random() < 0.7) return [{ id, user: `u${Math.floor(random() * users)}`, amount: Math.floor(random() * 100) }, 1];
    const rule = RULE_KEYS[Math.floor(random() * RULE_KEYS.length)]!;
    return random() < 0.7 ? [{ op: 'put', rule, min: Math.floor(random() * 100) }, 2] : [{ op: 'remove', rule }, 2];
  });
}

const userKey = (record: unknown): unknown => (record as Event).user;

/** `parallelism` instances, keyed or not, each with its keyed state. */
function instances(parallelism: number, keyed: boolean): { logics: OperatorLogic[]; backends: KeyedStateBackend[] } {
  const backends = keyed ? Array.from({ length: parallelism }, (_, i) => backend(i, parallelism)) : [];
  const logics = Array.from({ length: parallelism }, (_, i) =>
    broadcastProcessLogic(fn(matchEvent), fn(updateRules), keyed ? userKey : undefined, keyed ? backends[i] : undefined, VERTEX));
  return { logics, backends };
}

/**
 * Events go to one subtask (by key when keyed, as the hash partitioner sends them, else round
 * robin); a rule goes to all of them, and what they emitted for it comes one subtask after another.
 */
function runAt(logics: OperatorLogic[], keyed: boolean, items: Item[]): unknown[][] {
  const p = logics.length;
  return items.map(([record, input]) => {
    if (input === 2) return logics.flatMap((logic) => records(feed(logic, record, 2)));
    const subtask = keyed ? subtaskForKey(canonicalKey(record.user), MAX_P, p) : record.id % p;
    return records(feed(logics[subtask]!, record, 1));
  });
}

/** The reference, with the output for a rule once per subtask. */
const expectedAt = (items: Item[], keyed: boolean, parallelism: number): unknown[][] =>
  reference(items, keyed).map((out, i) => (items[i]![1] === 2 ? Array.from({ length: parallelism }, () => out).flat() : out));

describe('broadcastProcessLogic', () => {
  describe('against a plain loop', () => {
    for (const keyed of [false, true]) {
      for (const parallelism of [1, 4]) {
        it(`matches the reference for seeded rule changes among events (${keyed ? 'keyed' : 'not keyed'}, parallelism ${parallelism})`, () => {
          for (const seed of [1, 2, 3, 4, 5]) {
            const items = stream(seed, 1500);
            const expected = expectedAt(items, keyed, parallelism);
            const { logics } = instances(parallelism, keyed);
            expect(runAt(logics, keyed, items), `seed ${seed}`).to.deep.equal(expected);
            const matched = expected.filter((out, i) => items[i]![1] === 1 && out.length > 0).length;
            expect(matched, `seed ${seed}: events that met rules`).to.be.greaterThan(500);
          }
        });
      }
    }

    it('keeps the broadcast state equal on every subtask', () => {
      const { logics } = instances(4, true);
      runAt(logics, true, stream(6, 1000));
      const snapshots = logics.map((logic) => logic.snapshotState!(1));
      for (const snapshot of snapshots.slice(1)) expect(snapshot).to.deep.equal(snapshots[0]);
      expect((snapshots[0] as { broadcast: [string, unknown][] }).broadcast.map(([name]) => name)).to.deep.equal(['rules', 'stats']);
    });
  });

  describe('contexts', () => {
    it('gives fn1 its key and keyed state when keyed, and neither when not', () => {
      const seen: Record<string, unknown>[] = [];
      const spy = fn((_: unknown, ctx: BroadcastProcessContext) => { seen.push({ ...ctx }); });
      const state = backend();
      feed(broadcastProcessLogic(spy, fn(() => []), userKey, state, VERTEX), { user: 'ann' }, 1, 10);
      feed(broadcastProcessLogic(spy, fn(() => []), undefined, undefined, VERTEX), { user: 'bob' }, undefined, 20);
      expect(Object.keys(seen[0]!)).to.have.members(['key', 'state', 'timestamp', 'broadcastState', 'output']);
      expect(seen[0]).to.include({ key: 'ann', state: state.store, timestamp: 10 });
      expect(state.currentKey).to.equal('ann');
      expect(Object.keys(seen[1]!)).to.have.members(['timestamp', 'broadcastState', 'output']);
      expect(seen[1]!.timestamp).to.equal(20);
    });

    it('gives fn2 applyToKeyedState only when keyed, and no key or keyed state', () => {
      const seen: Record<string, unknown>[] = [];
      const spy = fn((_: unknown, ctx: BroadcastSideContext) => { seen.push({ ...ctx }); });
      feed(broadcastProcessLogic(fn(() => []), spy, userKey, backend(), VERTEX), 'rule', 2, 5);
      feed(broadcastProcessLogic(fn(() => []), spy, undefined, undefined, VERTEX), 'rule', 2);
      expect(Object.keys(seen[0]!)).to.have.members(['timestamp', 'broadcastState', 'output', 'applyToKeyedState']);
      expect(seen[0]!.timestamp).to.equal(5);
      expect(Object.keys(seen[1]!)).to.have.members(['timestamp', 'broadcastState', 'output']);
      expect(seen[1]!.timestamp).to.equal(undefined);
    });

    it('emits results and side outputs with the timestamp of the record, from either function', () => {
      const logic = broadcastProcessLogic(
        fn((r: string, ctx: BroadcastProcessContext) => { ctx.output('audit', `1:${r}`); return [r, `${r}!`]; }),
        fn((r: string, ctx: BroadcastSideContext) => { ctx.output('audit', `2:${r}`); return new Set([r]); }),
        undefined, undefined, VERTEX);
      expect(feed(logic, 'x', 1, 100)).to.deep.equal([
        { tag: 'audit', record: '1:x', timestamp: 100 }, { record: 'x', timestamp: 100 }, { record: 'x!', timestamp: 100 }]);
      expect(feed(logic, 'y', 2, 200)).to.deep.equal([{ tag: 'audit', record: '2:y', timestamp: 200 }, { record: 'y', timestamp: 200 }]);
      expect(feed(logic, 'z', 1)).to.deep.equal([{ tag: 'audit', record: '1:z', timestamp: undefined }, { record: 'z', timestamp: undefined }, { record: 'z!', timestamp: undefined }]);
    });

    it('emits nothing for undefined or null, and every element of a generator', () => {
      const logic = broadcastProcessLogic(
        fn((n: number) => (n === 0 ? undefined : (function* () { for (let i = 0; i < n; i++) yield i; })())), fn(() => null), undefined, undefined, VERTEX);
      expect(records(feed(logic, 0, 1))).to.deep.equal([]);
      expect(records(feed(logic, 3, 1))).to.deep.equal([0, 1, 2]);
      expect(records(feed(logic, 3, 2))).to.deep.equal([]);
    });
  });

  describe('broadcast state', () => {
    it('offers fn2 every operation of a map, keyed by value', () => {
      const results: unknown[] = [];
      const logic = broadcastProcessLogic(fn(() => []), fn((step: (s: BroadcastState) => unknown, ctx: BroadcastSideContext) => {
        results.push(step(ctx.broadcastState('m')));
      }), undefined, undefined, VERTEX);
      const steps: ((s: BroadcastState) => unknown)[] = [
        (s) => s.isEmpty(),
        (s) => { s.put('1', 'string'); s.put(1, 'number'); s.put(1n, 'bigint'); s.put(true, 'boolean'); s.put(-0, 'zero'); },
        (s) => [s.get('1'), s.get(1), s.get(1n), s.get(true), s.get(0), s.get(2), s.contains(0), s.contains(false), s.isEmpty()],
        (s) => { s.put(1, 'number again'); s.remove(true); s.remove('absent'); },
        (s) => [s.entries(), s.keys(), s.values()],
        (s) => { s.clear(); },
        (s) => [s.isEmpty(), s.entries()],
      ];
      for (const step of steps) feed(logic, step, 2);
      expect(results).to.deep.equal([
        true,
        undefined,
        ['string', 'number', 'bigint', 'boolean', 'zero', undefined, true, false, false],
        undefined,
        [[['1', 'string'], [1, 'number again'], [1n, 'bigint'], [0, 'zero']], ['1', 1, 1n, 0], ['string', 'number again', 'bigint', 'zero']],
        undefined,
        [true, []],
      ]);
    });

    it('keeps states of different names apart', () => {
      const logic = broadcastProcessLogic(
        fn((_: unknown, ctx: BroadcastProcessContext) => [[ctx.broadcastState('a').entries(), ctx.broadcastState('b').entries(), ctx.broadcastState('c').isEmpty()]]),
        fn((r: [string, string], ctx: BroadcastSideContext) => { ctx.broadcastState(r[0]).put('k', r[1]); }), undefined, undefined, VERTEX);
      feed(logic, ['a', 'x'], 2);
      feed(logic, ['b', 'y'], 2);
      expect(records(feed(logic, null, 1))).to.deep.equal([[[['k', 'x']], [['k', 'y']], true]]);
    });

    it('gives entries, keys and values as copies: changing them changes no state', () => {
      const logic = broadcastProcessLogic(
        fn((_: unknown, ctx: BroadcastProcessContext) => {
          const view = ctx.broadcastState('m');
          view.entries().push(['x', 1]);
          view.keys().push('y');
          return [view.entries()];
        }),
        fn((_: unknown, ctx: BroadcastSideContext) => { ctx.broadcastState('m').put('k', 1); }), undefined, undefined, VERTEX);
      feed(logic, null, 2);
      expect(records(feed(logic, null, 1))).to.deep.equal([[['k', 1]]]);
    });

    it('is read-only in fn1: put, remove and clear fail with a reason, and change nothing', () => {
      for (const write of ['put', 'remove', 'clear'] as const) {
        const logic = broadcastProcessLogic(
          fn((_: unknown, ctx: BroadcastProcessContext) => {
            const view = ctx.broadcastState('rules') as unknown as BroadcastState;
            if (write === 'put') view.put('k', 2);
            else if (write === 'remove') view.remove('k');
            else view.clear();
          }),
          fn((_: unknown, ctx: BroadcastSideContext) => { ctx.broadcastState('rules').put('k', 1); }), userKey, backend(), VERTEX);
        feed(logic, null, 2);
        expectError(() => feed(logic, { user: 'u' }, 1), 'UDF_FAILED',
          new RegExp(`^broadcast state 'rules' of '${VERTEX}' is read-only in fn1 \\(the main input\\), as in Flink: ${write}\\(\\) is allowed only in fn2`));
        expect(logic.snapshotState!(1)).to.deep.equal({ broadcast: [['rules', [['k', 1]]]] });
      }
    });

    it('cannot be changed through the read-only view by replacing its methods', () => {
      const logic = broadcastProcessLogic(
        fn((_: unknown, ctx: BroadcastProcessContext) => { (ctx.broadcastState('rules') as unknown as { put: unknown }).put = () => undefined; }),
        fn(() => []), undefined, undefined, VERTEX);
      expect(thrownBy(() => feed(logic, null, 1))).to.be.instanceOf(TypeError);
    });

    it('refuses an object, array, null or undefined key with a reason, on every operation', () => {
      for (const key of [{ id: 1 }, [1, 2], null, undefined]) {
        for (const op of ['put', 'get', 'contains', 'remove'] as const) {
          const logic = broadcastProcessLogic(fn(() => []),
            fn((_: unknown, ctx: BroadcastSideContext) => { (ctx.broadcastState('rules')[op] as (k: unknown, v?: unknown) => void)(key, 1); }),
            undefined, undefined, VERTEX);
          expectError(() => feed(logic, null, 2), 'UDF_FAILED',
            /^broadcast state 'rules' of 'rules-join' takes strings, numbers, booleans or bigints as keys, not .*: an object or array key would be compared by identity/);
        }
      }
      const reader = broadcastProcessLogic(fn((_: unknown, ctx: BroadcastProcessContext) => ctx.broadcastState('r').get({} as never)), fn(() => []), undefined, undefined, VERTEX);
      expectError(() => feed(reader, null, 1), 'UDF_FAILED', /takes strings, numbers, booleans or bigints as keys, not object \{\}/);
    });

    it('refuses a state name that is not a non-empty string', () => {
      for (const name of ['', 3, undefined]) {
        const logic = broadcastProcessLogic(fn(() => []), fn((_: unknown, ctx: BroadcastSideContext) => { ctx.broadcastState(name as string); }), undefined, undefined, VERTEX);
        expectError(() => feed(logic, null, 2), 'UDF_FAILED', /^ctx\.broadcastState\(name\) needs a non-empty string name/);
      }
    });
  });

  describe('applyToKeyedState', () => {
    /** fn1 counts events per user (and marks users whose name ends in 0); fn2 runs `apply` over the counts. */
    function counting(apply: (ctx: BroadcastSideContext) => unknown, state: KeyedStateBackend): OperatorLogic {
      return broadcastProcessLogic(
        fn((e: Event, ctx: BroadcastProcessContext) => {
          const count = ctx.state!.value<number>('count');
          count.update((count.value() ?? 0) + 1);
          if (e.user.endsWith('0')) ctx.state!.value<boolean>('marked').update(true);
        }),
        fn((_: unknown, ctx: BroadcastSideContext) => apply(ctx)), userKey, state, VERTEX);
    }

    it('visits every key of the subtask holding the state, with the state scoped to that key, at parallelism 1 and 4', () => {
      for (const parallelism of [1, 4]) {
        const items = stream(11, 800).filter(([, input]) => input === 1) as [Event, 1][];
        const counts: Record<string, number> = {};
        for (const [e] of items) counts[e.user] = (counts[e.user] ?? 0) + 1;
        const visits: [number, unknown, unknown][] = [];
        const backends = Array.from({ length: parallelism }, (_, i) => backend(i, parallelism));
        const logics = backends.map((state, subtask) => counting((ctx) => {
          ctx.applyToKeyedState!('count', (key, store) => { visits.push([subtask, key, store.value<number>('count').value()]); });
          ctx.applyToKeyedState!('marked', (key, store) => { visits.push([subtask, key, store.value<boolean>('marked').value()]); });
        }, state));
        for (const [e] of items) feed(logics[subtaskForKey(canonicalKey(e.user), MAX_P, parallelism)]!, e, 1);
        for (const logic of logics) feed(logic, 'apply', 2);
        const expected = [
          ...Object.entries(counts).map(([user, n]) => [subtaskForKey(canonicalKey(user), MAX_P, parallelism), user, n]),
          ...Object.keys(counts).filter((u) => u.endsWith('0')).map((user) => [subtaskForKey(canonicalKey(user), MAX_P, parallelism), user, true]),
        ];
        expect(visits, `parallelism ${parallelism}`).to.have.deep.members(expected);
        expect(visits.length).to.equal(expected.length);
      }
    });

    it('lets the function change and clear the state of each key, and skips keys without it', () => {
      const state = backend();
      const logic = counting((ctx) => {
        ctx.applyToKeyedState!('count', (key, store) => {
          const count = store.value<number>('count');
          if (key === 'u1') count.clear();
          else count.update(count.value()! * 10);
        });
        const left: unknown[] = [];
        ctx.applyToKeyedState!('count', (key, store) => { left.push([key, store.value('count').value()]); });
        ctx.applyToKeyedState!('no such state', () => { left.push('never'); });
        return left;
      }, state);
      for (const user of ['u1', 'u2', 'u2', 'u3']) feed(logic, { id: 0, user, amount: 0 }, 1);
      // In key-group order, which is not the order the keys came in.
      expect(records(feed(logic, 'apply', 2))).to.have.deep.members([['u2', 20], ['u3', 10]]);
      expect(state.keys('count')).to.have.members(['u2', 'u3']);
    });

    it('refuses a state name or a function of the wrong kind', () => {
      const logic = (name: unknown, f: unknown): OperatorLogic => counting((ctx) => { ctx.applyToKeyedState!(name as string, f as () => void); }, backend());
      expectError(() => feed(logic('', () => undefined), null, 2), 'UDF_FAILED', /applyToKeyedState\(stateName, fn\) needs a non-empty string state name/);
      expectError(() => feed(logic('count', 'f'), null, 2), 'UDF_FAILED', /applyToKeyedState\(stateName, fn\) needs a function \(key, state\) => void, got string f/);
    });

    it('leaves fn1 with its own key afterwards', () => {
      const seen: unknown[] = [];
      const logic = broadcastProcessLogic(
        fn((e: Event, ctx: BroadcastProcessContext) => { seen.push([ctx.key, ctx.state!.value<number>('count').value()]); ctx.state!.value<number>('count').update(1); }),
        fn((_: unknown, ctx: BroadcastSideContext) => { ctx.applyToKeyedState!('count', () => undefined); }), userKey, backend(), VERTEX);
      feed(logic, { user: 'a' }, 1);
      feed(logic, { user: 'b' }, 1);
      feed(logic, null, 2);
      feed(logic, { user: 'a' }, 1);
      expect(seen).to.deep.equal([['a', undefined], ['b', undefined], ['a', 1]]);
    });
  });

  describe('through a checkpoint', () => {
    it('snapshots plain data: [key, value] entries per non-empty state, keys of every kind kept through msgpack', () => {
      const logic = broadcastProcessLogic(fn(() => []), fn((r: [string, BroadcastKey, unknown] | string, ctx: BroadcastSideContext) => {
        if (typeof r === 'string') ctx.broadcastState(r).clear();
        else ctx.broadcastState(r[0]).put(r[1], r[2]);
      }), undefined, undefined, VERTEX);
      for (const r of [['m', '1', 'a'], ['m', 1, { deep: [1, 2] }], ['m', 1n, null], ['m', true, 'b'], ['m', 2 ** 40, 'big'], ['gone', 'x', 1], 'gone', ['n', 'k', 'v']]) feed(logic, r, 2);
      const snapshot = logic.snapshotState!(3);
      const expected = { broadcast: [['m', [['1', 'a'], [1, { deep: [1, 2] }], [1n, null], [true, 'b'], [2 ** 40, 'big']]], ['n', [['k', 'v']]]] };
      expect(snapshot).to.deep.equal(expected);
      expect(viaWire(snapshot)).to.deep.equal(expected);
      feed(logic, ['n', 'later', 1], 2);
      expect(snapshot, 'a snapshot does not follow later changes').to.deep.equal(expected);
    });

    it('survives a snapshot and a restore mid-stream as an unbroken run, at another parallelism too', () => {
      for (const keyed of [false, true]) {
        for (const [from, to] of [[1, 1], [1, 4], [4, 1], [4, 2], [2, 3], [4, 4]] as const) {
          for (const seed of [21, 22]) {
            const items = stream(seed, 1200);
            const cut = 400 + Math.floor(prng(seed)() * 400);
            const old = instances(from, keyed);
            const before = runAt(old.logics, keyed, items.slice(0, cut));
            const operatorStates = old.logics.map((logic) => viaWire(logic.snapshotState!(7)));
            const keyedStates = old.backends.map((state) => viaWire<KeyedStateSnapshot>(state.snapshot()));
            // The old run goes on after the checkpoint and fails: what it did then is lost.
            runAt(old.logics, keyed, items.slice(cut, cut + 200));
            const resumed = instances(to, keyed);
            for (const state of resumed.backends) state.restore(keyedStates);
            for (const logic of resumed.logics) logic.restoreState!(operatorStates);
            const after = runAt(resumed.logics, keyed, items.slice(cut));
            const what = `${keyed ? 'keyed' : 'not keyed'}, ${from} → ${to}, seed ${seed}`;
            expect(before, what).to.deep.equal(expectedAt(items.slice(0, cut), keyed, from));
            expect(after, what).to.deep.equal(expectedAt(items, keyed, to).slice(cut));
          }
        }
      }
    });

    it('takes the first non-empty copy: subtasks without a snapshot, or with an empty one, are skipped', () => {
      const { logics } = instances(1, false);
      runAt(logics, false, [[{ op: 'put', rule: 'r', min: 5 }, 2], [{ op: 'put', rule: 2n, min: 7 }, 2]]);
      const copy = viaWire(logics[0]!.snapshotState!(1));
      for (const states of [[copy], [undefined, copy, copy], [null, { broadcast: [] }, copy], [undefined, undefined, undefined, copy]]) {
        const { logics: [restored] } = instances(1, false);
        restored!.restoreState!(states);
        expect(restored!.snapshotState!(2), JSON.stringify(states, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).to.deep.equal(copy);
        expect(records(feed(restored!, { id: 9, user: 'u', amount: 6 }, 1))).to.deep.equal([{ id: 9, user: undefined, rule: 'string:r', n: undefined, changes: 2 }]);
      }
    });

    it('restores to empty from no snapshots, and replaces what an instance held, also behind views taken before', () => {
      const views: BroadcastState[] = [];
      const logic = broadcastProcessLogic(fn(() => []), fn((r: string, ctx: BroadcastSideContext) => {
        const view = ctx.broadcastState('m');
        views.push(view);
        if (r !== 'look') view.put(r, r.length);
      }), undefined, undefined, VERTEX);
      feed(logic, 'old', 2);
      feed(logic, 'older', 2);
      logic.restoreState!([undefined, { broadcast: [['m', [['new', 1]]], ['other', [[1, 2]]]] }]);
      expect(views[0]!.entries()).to.deep.equal([['new', 1]]);
      expect(logic.snapshotState!(1)).to.deep.equal({ broadcast: [['m', [['new', 1]]], ['other', [[1, 2]]]] });
      for (const states of [[], [undefined], [null, undefined]]) {
        logic.restoreState!(states);
        expect(logic.snapshotState!(2)).to.deep.equal({ broadcast: [] });
        expect(views[0]!.isEmpty()).to.equal(true);
      }
    });

    it('fails clearly on an operator state that is not a broadcast snapshot', () => {
      const logic = broadcastProcessLogic(fn(() => []), fn(() => []), undefined, undefined, VERTEX);
      for (const bad of [{ positions: {} }, { broadcast: [['m', 'x']] }, 5]) {
        expectError(() => logic.restoreState!([undefined, bad]), 'INTERNAL', /^the operator state of subtask 1 of broadcast process 'rules-join' is not a broadcast state snapshot/);
      }
    });
  });

  describe('errors', () => {
    it('lets an error of either function through as it was thrown', () => {
      const boom1 = new Error('fn1 broke');
      const boom2 = new TypeError('fn2 broke');
      for (const keyed of [false, true]) {
        const logic = broadcastProcessLogic(fn(() => { throw boom1; }), fn(() => { throw boom2; }), keyed ? userKey : undefined, keyed ? backend() : undefined, VERTEX);
        expect(thrownBy(() => feed(logic, { user: 'a' }, 1))).to.equal(boom1);
        expect(thrownBy(() => feed(logic, { user: 'a' }, 2))).to.equal(boom2);
      }
    });

    it('fails naming the function and the vertex when a function returns something that is not iterable', () => {
      const logic = broadcastProcessLogic(fn((x: unknown) => x), fn((x: unknown) => x), undefined, undefined, VERTEX);
      expectError(() => feed(logic, 5, 1), 'UDF_FAILED', /^the main-input function \(fn1\) of broadcast process 'rules-join' must return an array or another iterable, not number 5$/);
      expectError(() => feed(logic, 'abc', undefined), 'UDF_FAILED', /\(fn1\).*not string abc/);
      expectError(() => feed(logic, { a: 1 }, 2), 'UDF_FAILED', /^the broadcast-input function \(fn2\) of broadcast process 'rules-join' must return an array or another iterable, not object \{"a":1\}$/);
      expectError(() => feed(logic, true, 2), 'UDF_FAILED', /\(fn2\).*not boolean true/);
    });

    it('refuses a side output without a tag', () => {
      const logic = broadcastProcessLogic(fn((_: unknown, ctx: BroadcastProcessContext) => { ctx.output('', 1); }), fn((_: unknown, ctx: BroadcastSideContext) => { ctx.output(3 as never, 1); }), undefined, undefined, VERTEX);
      expectError(() => feed(logic, null, 1), 'UDF_FAILED', /ctx\.output\(tag, value\) needs a non-empty string tag, got string $/);
      expectError(() => feed(logic, null, 2), 'UDF_FAILED', /needs a non-empty string tag, got number 3/);
    });

    it('fails clearly when a keyed event reaches a subtask that does not own its key', () => {
      const random = prng(4);
      const user = Array.from({ length: 100 }, () => `k${Math.floor(random() * 1e6)}`).find((k) => subtaskForKey(canonicalKey(k), MAX_P, 2) === 1)!;
      const logic = broadcastProcessLogic(fn(() => []), fn(() => []), userKey, backend(0, 2), VERTEX);
      expectError(() => feed(logic, { user }, 1), 'INTERNAL', /outside this subtask's key groups \[0, 64\).*routed to the wrong subtask/);
    });

    it('refuses to build with a key selector but no keyed state, or the reverse', () => {
      expectError(() => broadcastProcessLogic(fn(() => []), fn(() => []), userKey, undefined, VERTEX), 'INTERNAL', /needs both a key selector and a keyed state backend, or neither/);
      expectError(() => broadcastProcessLogic(fn(() => []), fn(() => []), undefined, backend(), VERTEX), 'INTERNAL', /or neither/);
    });
  });
});
