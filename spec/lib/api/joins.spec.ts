import { expect } from 'chai';
import {
  BroadcastConnectedStream, CountTrigger, GlobalWindows, IntervalJoin, IntervalJoined, JoinedStreams, KeyedJoin, StreamExecutionEnvironment,
  TumblingEventTimeWindows, WindowJoin, type SingleOutputStreamOperator,
} from '../../../lib/api/index.ts';
import { edgesInto, expectInvalid, expectValid, graph, revive, vertexById } from '../../helpers/api.ts';

// Two-input operators of the API: window join and coGroup, interval join, broadcast state.

interface Click { user: string; page: string; at: number }
interface Profile { user: string; country: string; at: number }


/** Clicks and profiles with event time, on an environment of parallelism 2. */
function sources() {
  const env = new StreamExecutionEnvironment(undefined, { parallelism: 2 });
  const clicks = env.fromElements<Click>({ user: 'a', page: '/', at: 1 }).uid('clicks').assignTimestampsAndWatermarks({ timestamp: 'at' });
  const profiles = env.fromElements<Profile>({ user: 'a', country: 'NL', at: 2 }).uid('profiles').assignTimestampsAndWatermarks({ timestamp: 'at' });
  return { env, clicks, profiles };
}


describe('joins', () => {
  describe('window join', () => {
    it('join().where().equalTo().window().apply() adds one windowJoin vertex with two hash edges, the left one input 1', () => {
      const { env, clicks, profiles } = sources();
      const joined = clicks.join(profiles);
      expect(joined).to.be.instanceOf(JoinedStreams);
      const keyed = joined.where('user').equalTo((p) => p.user);
      expect(keyed).to.be.instanceOf(KeyedJoin);
      const windowed = keyed.window(TumblingEventTimeWindows.of(10));
      expect(windowed).to.be.instanceOf(WindowJoin);
      const out = windowed.apply((c: Click, p: Profile) => ({ page: c.page, country: p.country }));
      out.collect({ uid: 'out' });

      expect(out.id).to.equal('windowJoin-3');
      expect(vertexById(env, out.id)).to.deep.equal({
        id: 'windowJoin-3', name: 'join', operator: 'windowJoin', assigner: { type: 'tumbling', sizeMs: 10 }, join: vertexById(env, out.id).join,
      });
      expect(revive(vertexById(env, out.id).join)({ page: '/' }, { country: 'NL' })).to.deep.equal({ page: '/', country: 'NL' });
      const [left, right] = edgesInto(env, out.id);
      expect(left).to.deep.equal({ from: 'clicks', to: 'windowJoin-3', partition: 'hash', key: { field: 'user' }, input: 1 });
      expect(right).to.deep.include({ from: 'profiles', to: 'windowJoin-3', partition: 'hash', input: 2 });
      expect(revive((right!.key as { fn: string }).fn)({ user: 'b' })).to.equal('b');
      expect(graph(env).edges.filter((e) => e.from === out.id)).to.deep.equal([{ from: 'windowJoin-3', to: 'out', partition: 'forward' }]);
      expectValid(env.getDescriptor());
    });

    it('coGroup() puts the function under coGroup; the window function gets both sides and the context', () => {
      const { env, clicks, profiles } = sources();
      const out = clicks.coGroup(profiles).where('user').equalTo('user').window(TumblingEventTimeWindows.of(10))
        .apply(function pair(cs: Click[], ps: Profile[]) { return [cs.length + ps.length]; });
      const typed: SingleOutputStreamOperator<number> = out;
      expect(typed).to.equal(out);
      out.collect();
      const vertex = vertexById(env, out.id);
      expect(vertex).to.include({ operator: 'windowJoin', name: 'pair' });
      expect(vertex).to.not.have.property('join');
      expect(revive(vertex.coGroup)([1, 2], [3], {})).to.deep.equal([3]);
      expect(edgesInto(env, out.id).map((e) => [e.from, e.partition, e.key, e.input])).to.deep.equal([
        ['clicks', 'hash', { field: 'user' }, 1], ['profiles', 'hash', { field: 'user' }, 2],
      ]);
      expectValid(env.getDescriptor());
    });

    it('carries allowedLateness(), a count trigger, and the operator options', () => {
      const { env, clicks, profiles } = sources();
      const out = clicks.join(profiles).where('user').equalTo('user').window(TumblingEventTimeWindows.of(10))
        .allowedLateness(5)
        .trigger(CountTrigger.of(3))
        .apply((c: Click) => c, { uid: 'joined', name: 'by user', parallelism: 1 });
      out.print();
      expect(vertexById(env, 'joined')).to.deep.include({
        name: 'by user', parallelism: 1, allowedLatenessMs: 5, trigger: { type: 'count', count: 3 }, assigner: { type: 'tumbling', sizeMs: 10 },
      });
      expect(edgesInto(env, 'joined').map((e) => e.partition)).to.deep.equal(['hash', 'hash']);
      expectValid(env.getDescriptor());
    });

    it('leaves allowedLateness(0) out of the descriptor', () => {
      const { env, clicks, profiles } = sources();
      const out = clicks.join(profiles).where('user').equalTo('user').window(TumblingEventTimeWindows.of(10)).allowedLateness(0).apply((c: Click) => c);
      out.print();
      expect(vertexById(env, out.id)).to.not.have.property('allowedLatenessMs');
    });

    it('joins in global windows fired by a count trigger', () => {
      const { env, clicks, profiles } = sources();
      const out = clicks.join(profiles).where('user').equalTo('user').window(GlobalWindows.create()).trigger(CountTrigger.of(2)).apply((c: Click) => c);
      out.print();
      expect(vertexById(env, out.id)).to.deep.include({ assigner: { type: 'global' }, trigger: { type: 'count', count: 2 } });
      expectValid(env.getDescriptor());
    });

    describe('errors', () => {
      it('refuses a global window without a trigger at apply(), and adds no vertex', () => {
        const { env, clicks, profiles } = sources();
        const windowed = clicks.join(profiles).where('user').equalTo('user').window(GlobalWindows.create());
        expectInvalid(() => windowed.apply((c: Click) => c), /^a GlobalWindows window never ends, so only a trigger fires it: add \.trigger\(CountTrigger\.of\(n\)\)$/);
        expect(graph(env).vertices).to.have.length(2);
      });

      it('refuses a trigger that is not a count trigger, and a bad lateness', () => {
        const { clicks, profiles } = sources();
        const windowed = clicks.join(profiles).where('user').equalTo('user').window(TumblingEventTimeWindows.of(10));
        expectInvalid(() => windowed.trigger({ type: 'time' } as never), /^trigger\(\) expects CountTrigger\.of\(n\)$/);
        expectInvalid(() => windowed.trigger(undefined as never), /expects CountTrigger/);
        expectInvalid(() => windowed.allowedLateness(-1), /^allowedLateness\(-1\): expected a whole number of milliseconds, 0 or more$/);
        expectInvalid(() => windowed.allowedLateness(1.5), /allowedLateness\(1\.5\)/);
      });

      it('refuses a stream of another environment, or something that is not a stream', () => {
        const { clicks } = sources();
        const other = new StreamExecutionEnvironment().fromElements(1);
        expectInvalid(() => clicks.join(other), /^join\(\): the other stream must be a DataStream of the same environment$/);
        expectInvalid(() => clicks.coGroup(other), /^coGroup\(\): the other stream must be a DataStream/);
        expectInvalid(() => clicks.join({} as never), /same environment/);
      });

      it('refuses a bad key or function, naming the call', () => {
        const { clicks, profiles } = sources();
        expectInvalid(() => clicks.join(profiles).where('' as never), /^keyBy\(\): the field name must not be empty$/);
        const windowed = clicks.coGroup(profiles).where('user').equalTo('user').window(TumblingEventTimeWindows.of(10));
        expectInvalid(() => windowed.apply(5 as never), /^coGroup\(\)\.apply\(\) expects a function/);
      });
    });
  });

  describe('interval join', () => {
    it('keyBy().intervalJoin(keyBy()).between().process() adds one intervalJoin vertex with the bounds and two hash edges', () => {
      const { env, clicks, profiles } = sources();
      const interval = clicks.keyBy('user').intervalJoin(profiles.keyBy('user'));
      expect(interval).to.be.instanceOf(IntervalJoin);
      const bounded = interval.between(-5, 10);
      expect(bounded).to.be.instanceOf(IntervalJoined);
      const out = bounded.process(function* enrich(c: Click, p: Profile) { yield `${c.page}@${p.country}`; });
      out.collect();
      expect(vertexById(env, out.id)).to.deep.equal({
        id: 'intervalJoin-3', name: 'enrich', operator: 'intervalJoin', lowerMs: -5, upperMs: 10, fn: vertexById(env, out.id).fn,
      });
      expect([...revive(vertexById(env, out.id).fn)({ page: '/' }, { country: 'NL' })]).to.deep.equal(['/@NL']);
      expect(edgesInto(env, out.id)).to.deep.equal([
        { from: 'clicks', to: 'intervalJoin-3', partition: 'hash', key: { field: 'user' }, input: 1 },
        { from: 'profiles', to: 'intervalJoin-3', partition: 'hash', key: { field: 'user' }, input: 2 },
      ]);
      expectValid(env.getDescriptor());
    });

    it('marks exclusive bounds, takes equal bounds, and names the vertex intervalJoin for an anonymous function', () => {
      const { env, clicks, profiles } = sources();
      const out = clicks.keyBy('user').intervalJoin(profiles.keyBy((p) => p.user)).between(0, 2)
        .lowerBoundExclusive().upperBoundExclusive()
        .process((c: Click) => [c], { parallelism: 1 });
      const equal = clicks.keyBy('user').intervalJoin(profiles.keyBy('user')).between(0, 0).process((c: Click) => [c]);
      out.print();
      equal.print();
      expect(vertexById(env, out.id)).to.deep.include({ name: 'intervalJoin', lowerMs: 0, upperMs: 2, lowerExclusive: true, upperExclusive: true, parallelism: 1 });
      expect(vertexById(env, equal.id)).to.deep.include({ lowerMs: 0, upperMs: 0 });
      expectValid(env.getDescriptor());
    });

    it('refuses bounds that, without the excluded ones, hold no millisecond', () => {
      const { clicks, profiles } = sources();
      expectInvalid(() => clicks.keyBy('user').intervalJoin(profiles.keyBy('user')).between(0, 0).lowerBoundExclusive().process((c: Click) => [c]),
        /^between\(0, 0\) without its excluded bounds holds no millisecond/);
      expectInvalid(() => clicks.keyBy('user').intervalJoin(profiles.keyBy('user')).between(0, 1).lowerBoundExclusive().upperBoundExclusive().process((c: Click) => [c]),
        /holds no millisecond/);
    });

    it('has side outputs: getSideOutput() reads a tagged edge from the intervalJoin vertex', () => {
      const { env, clicks, profiles } = sources();
      const out = clicks.keyBy('user').intervalJoin(profiles.keyBy('user')).between(-1, 1).process((c: Click, _p: Profile, ctx) => { ctx.output('odd', c); });
      out.getSideOutput('odd').collect({ uid: 'odd' });
      expect(edgesInto(env, 'odd')).to.deep.equal([{ from: out.id, to: 'odd', partition: 'forward', tag: 'odd' }]);
      expectValid(env.getDescriptor());
    });

    describe('errors', () => {
      it('refuses between(5, 1): the lower bound above the upper', () => {
        const { env, clicks, profiles } = sources();
        const interval = clicks.keyBy('user').intervalJoin(profiles.keyBy('user'));
        expectInvalid(() => interval.between(5, 1), /^between\(5, 1\): the lower bound must not exceed the upper one$/);
        expect(graph(env).vertices).to.have.length(2);
      });

      it('refuses bounds that are not whole numbers of milliseconds, naming which', () => {
        const { clicks, profiles } = sources();
        const interval = clicks.keyBy('user').intervalJoin(profiles.keyBy('user'));
        expectInvalid(() => interval.between(0.5, 10), /^between\(\): the lower bound must be a whole number of milliseconds, got 0\.5$/);
        expectInvalid(() => interval.between(0, 1.5), /^between\(\): the upper bound must be a whole number of milliseconds, got 1\.5$/);
        expectInvalid(() => interval.between(Number.NaN, 1), /lower bound .* got NaN$/);
        expectInvalid(() => interval.between(0, Infinity), /upper bound .* got Infinity$/);
        expectInvalid(() => interval.between('1' as never, 2), /lower bound .* got 1$/);
      });

      it('refuses a stream that is not keyed', () => {
        const { clicks, profiles } = sources();
        expectInvalid(() => clicks.keyBy('user').intervalJoin(profiles as never), /^intervalJoin\(\) expects another keyed stream: other\.keyBy\(\.\.\.\)$/);
        expectInvalid(() => clicks.keyBy('user').intervalJoin(undefined as never), /expects another keyed stream/);
      });

      it('refuses a keyed stream of another environment', () => {
        const { clicks } = sources();
        const other = new StreamExecutionEnvironment().fromElements({ user: 'a' });
        expectInvalid(() => clicks.keyBy('user').intervalJoin(other.keyBy('user') as never), /^intervalJoin\(\): the other stream must be a DataStream of the same environment$/);
      });

      it('refuses a process function that cannot be shipped', () => {
        const { clicks, profiles } = sources();
        const bounded = clicks.keyBy('user').intervalJoin(profiles.keyBy('user')).between(0, 1);
        expectInvalid(() => bounded.process(null as never), /^intervalJoin\(\)\.process\(\) expects a function/);
      });
    });
  });

  describe('broadcast state', () => {
    it('keyBy().connect(rules.broadcast()).process() adds a broadcastProcess vertex: input 1 hash by key, input 2 broadcast', () => {
      const { env, clicks } = sources();
      const rules = env.fromElements({ page: '/', limit: 3 }).uid('rules');
      const connected = clicks.keyBy('user').connect(rules.broadcast());
      expect(connected).to.be.instanceOf(BroadcastConnectedStream);
      const out = connected.process(
        function check(c: Click, ctx) { return ctx.broadcastState('limits').contains(c.page) ? [c] : []; },
        function store(r: { page: string; limit: number }, ctx) { ctx.broadcastState('limits').put(r.page, r.limit); },
      );
      out.collect({ uid: 'out' });
      expect(vertexById(env, out.id)).to.deep.equal({
        id: 'broadcastProcess-4', name: 'check/store', operator: 'broadcastProcess', fn1: vertexById(env, out.id).fn1, fn2: vertexById(env, out.id).fn2,
      });
      expect(edgesInto(env, out.id)).to.deep.equal([
        { from: 'clicks', to: 'broadcastProcess-4', partition: 'hash', key: { field: 'user' }, input: 1 },
        { from: 'rules', to: 'broadcastProcess-4', partition: 'broadcast', input: 2 },
      ]);
      expectValid(env.getDescriptor());
    });

    it('connect(rules.broadcast()).process() on a stream that is not keyed: input 1 is forward or rebalance, not hash', () => {
      const { env, clicks } = sources();
      const rules = env.fromElements('/x').uid('rules');
      const out = clicks.connect(rules.broadcast()).process((c: Click) => [c], () => undefined);
      out.print();
      expect(vertexById(env, out.id)).to.include({ operator: 'broadcastProcess', name: 'broadcastProcess' });
      expect(edgesInto(env, out.id)).to.deep.equal([
        { from: 'clicks', to: out.id, partition: 'forward', input: 1 },
        { from: 'rules', to: out.id, partition: 'broadcast', input: 2 },
      ]);
      expectValid(env.getDescriptor());
    });

    it('keeps rebalance() on the main stream of a broadcast process', () => {
      const { env, clicks } = sources();
      const out = clicks.rebalance().connect(env.fromElements(1).broadcast()).process((c: Click) => [c], () => []);
      out.print();
      expect(edgesInto(env, out.id).map((e) => [e.input, e.partition])).to.deep.equal([[1, 'rebalance'], [2, 'broadcast']]);
      expectValid(env.getDescriptor());
    });

    it('has side outputs, keyed or not', () => {
      const { env, clicks } = sources();
      const rules = env.fromElements(1);
      const keyed = clicks.keyBy('user').connect(rules.broadcast()).process((c: Click, ctx) => { ctx.output('seen', c); }, () => []);
      const plain = clicks.connect(rules.broadcast()).process((c: Click) => [c], (r: number, ctx) => { ctx.output('rules', r); });
      keyed.getSideOutput('seen').print();
      plain.getSideOutput('rules').print();
      expect(graph(env).edges.filter((e) => e.tag !== undefined).map((e) => [e.from, e.tag])).to.deep.equal([[keyed.id, 'seen'], [plain.id, 'rules']]);
      expectValid(env.getDescriptor());
    });

    describe('errors', () => {
      it('refuses keyBy().connect() to a stream that is not broadcast, pointing to both alternatives', () => {
        const { env, clicks, profiles } = sources();
        expectInvalid(() => clicks.keyBy('user').connect(profiles),
          /^keyBy\(\.\.\.\)\.connect\(other\): a keyed stream connects to a broadcast stream, other\.broadcast\(\); to connect two streams keyed alike, use a\.connect\(b\)\.keyBy\(k1, k2\)$/);
        expectInvalid(() => clicks.keyBy('user').connect(profiles.rebalance()), /connects to a broadcast stream/);
        expectInvalid(() => clicks.keyBy('user').connect(undefined as never), /connects to a broadcast stream/);
        expect(graph(env).vertices).to.have.length(2);
      });

      it('refuses keyBy().connect() to a broadcast stream of another environment', () => {
        const { clicks } = sources();
        const other = new StreamExecutionEnvironment().fromElements(1).broadcast();
        expectInvalid(() => clicks.keyBy('user').connect(other), /^connect\(\): the other stream must be a DataStream of the same environment$/);
      });

      it('refuses connect(other).process() when other is not broadcast, naming the broadcast and keyed co-process ways', () => {
        const { env, clicks, profiles } = sources();
        expectInvalid(() => clicks.connect(profiles).process((c: Click) => [c], () => []),
          /^connect\(other\)\.process\(fn1, fn2\) is the broadcast state pattern: connect a broadcast stream, other\.broadcast\(\); for a keyed co-process, use connect\(other\)\.keyBy\(k1, k2\)\.process\(fn1, fn2\)$/);
        // broadcast() on the first stream is not the broadcast state pattern.
        expectInvalid(() => clicks.broadcast().connect(profiles).process(() => [], () => []), /broadcast state pattern/);
        expect(graph(env).vertices).to.have.length(2);
      });

      it('refuses functions that are not functions, naming which', () => {
        const { env, clicks } = sources();
        const connected = clicks.keyBy('user').connect(env.fromElements(1).broadcast());
        expectInvalid(() => connected.process(1 as never, () => []), /^connect\(broadcast\)\.process\(\) fn1 expects a function/);
        expectInvalid(() => connected.process(() => [], 'x' as never), /^connect\(broadcast\)\.process\(\) fn2 expects a function/);
      });
    });
  });

  describe('getSideOutput()', () => {
    it('is refused on a windowJoin, which has no side outputs', () => {
      const { clicks, profiles } = sources();
      const joined = clicks.join(profiles).where('user').equalTo('user').window(TumblingEventTimeWindows.of(10)).apply((c: Click) => c);
      // The message's list says "joins ... have" side outputs, yet a window join has none: only the interval join does.
      expectInvalid(() => joined.getSideOutput('late'), /^getSideOutput\('late'\): windowJoin has no side outputs/);
    });

    it('is refused on map', () => {
      const { clicks } = sources();
      expectInvalid(() => clicks.map((c) => c).getSideOutput('x'), /^getSideOutput\('x'\): map has no side outputs; process functions, interval joins, broadcast process functions, and windows and sorts \(their late data\) have$/);
    });
  });
});
