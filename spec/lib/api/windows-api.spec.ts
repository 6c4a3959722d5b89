import { expect } from 'chai';
import {
  CountEvictor, CountTrigger, EventTimeSessionWindows, GlobalWindows, ProcessingTimeSessionWindows, PurgingTrigger, SlidingEventTimeWindows,
  SlidingProcessingTimeWindows, StreamExecutionEnvironment, TumblingEventTimeWindows, TumblingProcessingTimeWindows, WindowedStream,
} from '../../../lib/api/index.ts';
import { edgesInto, expectInvalid, expectValid, graph, issuesOf, revive, vertexById } from '../../helpers/api.ts';
import type { VertexDescriptor } from '../../../lib/descriptor/index.ts';

// Windows as the API builds them: processing time, global windows with triggers and evictors, count
// windows, windowAll, the built-in window functions; and the plain process function and sortByEventTime.

interface Bid { user: string; price: number; at: number }


/** Bids with event time from a source at the job's parallelism, 2. */
function bids() {
  const env = new StreamExecutionEnvironment(undefined, { parallelism: 2 });
  const stream = env.fromElements<Bid>({ user: 'a', price: 3, at: 1 }, { user: 'b', price: 5, at: 2 }).uid('bids').assignTimestampsAndWatermarks({ timestamp: 'at' });
  return { env, bids: stream };
}


const sum = (a: Bid, b: Bid): Bid => ({ ...a, price: a.price + b.price });

describe('windows (API)', () => {
  describe('assigners', () => {
    it('processing-time assigners are their event-time twins with time: processing', () => {
      expect(TumblingProcessingTimeWindows.of(10)).to.deep.equal({ type: 'tumbling', sizeMs: 10, time: 'processing' });
      expect(TumblingProcessingTimeWindows.of(10, 3)).to.deep.equal({ type: 'tumbling', sizeMs: 10, offsetMs: 3, time: 'processing' });
      expect(SlidingProcessingTimeWindows.of(10, 5)).to.deep.equal({ type: 'sliding', sizeMs: 10, slideMs: 5, time: 'processing' });
      expect(SlidingProcessingTimeWindows.of(10, 5, 1)).to.deep.equal({ type: 'sliding', sizeMs: 10, slideMs: 5, offsetMs: 1, time: 'processing' });
      expect(ProcessingTimeSessionWindows.withGap(7)).to.deep.equal({ type: 'session', gapMs: 7, time: 'processing' });
      expect(TumblingEventTimeWindows.of(10)).to.deep.equal({ type: 'tumbling', sizeMs: 10 });
      expect(GlobalWindows.create()).to.deep.equal({ type: 'global' });
    });

    it('triggers and evictors are plain data', () => {
      expect(CountTrigger.of(3)).to.deep.equal({ type: 'count', count: 3 });
      expect(PurgingTrigger.of(CountTrigger.of(3))).to.deep.equal({ type: 'count', count: 3, purge: true });
      expect(CountEvictor.of(4)).to.deep.equal({ type: 'count', count: 4 });
    });

    it('a keyed processing-time window goes into the descriptor as assigned', () => {
      const { env, bids: stream } = bids();
      for (const assigner of [TumblingProcessingTimeWindows.of(100), SlidingProcessingTimeWindows.of(100, 50), ProcessingTimeSessionWindows.withGap(30)]) {
        stream.keyBy('user').window(assigner).aggregate({ create: () => 0, add: (n: number) => n + 1, result: (n: number) => n, merge: (a: number, b: number) => a + b }).print();
      }
      const windows = graph(env).vertices.filter((v) => v.operator === 'window') as (VertexDescriptor & { assigner: unknown })[];
      expect(windows.map((v) => v.assigner)).to.deep.equal([
        { type: 'tumbling', sizeMs: 100, time: 'processing' },
        { type: 'sliding', sizeMs: 100, slideMs: 50, time: 'processing' },
        { type: 'session', gapMs: 30, time: 'processing' },
      ]);
      expectValid(env.getDescriptor());
    });

    it('refuses bad sizes, slides, gaps and offsets, naming the call', () => {
      expectInvalid(() => TumblingProcessingTimeWindows.of(0), /^TumblingProcessingTimeWindows\.of\(\): the size must be a whole number of milliseconds, at least 1; got 0$/);
      expectInvalid(() => SlidingProcessingTimeWindows.of(10, 1.5), /^SlidingProcessingTimeWindows\.of\(\): the slide must be .* got 1\.5$/);
      expectInvalid(() => ProcessingTimeSessionWindows.withGap(-1), /^ProcessingTimeSessionWindows\.withGap\(\): the gap must be .* got -1$/);
      expectInvalid(() => TumblingProcessingTimeWindows.of(10, -1), /^a window offset must be a whole number of milliseconds, 0 or more; got -1$/);
    });

    it('refuses counts under 1 or not whole for triggers and evictors, and PurgingTrigger of something else', () => {
      expectInvalid(() => CountTrigger.of(0), /^CountTrigger\.of\(\) expects a whole number, at least 1; got 0$/);
      expectInvalid(() => CountTrigger.of(2.5), /^CountTrigger\.of\(\) expects .* got 2\.5$/);
      expectInvalid(() => CountEvictor.of(-1), /^CountEvictor\.of\(\) expects a whole number, at least 1; got -1$/);
      expectInvalid(() => PurgingTrigger.of({ type: 'time' } as never), /^PurgingTrigger\.of\(\) expects a CountTrigger\.of\(n\)$/);
      expectInvalid(() => PurgingTrigger.of(undefined as never), /expects a CountTrigger/);
    });
  });

  describe('global windows, triggers and evictors', () => {
    it('keyBy().window(GlobalWindows).trigger().evictor() puts both on the window vertex, with its hash edge', () => {
      const { env, bids: stream } = bids();
      const windowed = stream.keyBy('user').window(GlobalWindows.create());
      expect(windowed).to.be.instanceOf(WindowedStream);
      const out = windowed.trigger(CountTrigger.of(2)).evictor(CountEvictor.of(5)).reduce(sum);
      out.collect();
      expect(vertexById(env, out.id)).to.deep.equal({
        id: 'window-2', name: 'sum', operator: 'window', assigner: { type: 'global' },
        reduce: vertexById(env, out.id).reduce, trigger: { type: 'count', count: 2 }, evictor: { type: 'count', count: 5 },
      });
      expect(revive(vertexById(env, out.id).reduce)({ price: 1 }, { price: 2 })).to.deep.equal({ price: 3 });
      expect(edgesInto(env, out.id)).to.deep.equal([{ from: 'bids', to: 'window-2', partition: 'hash', key: { field: 'user' } }]);
      expectValid(env.getDescriptor());
    });

    it('a count trigger may fire a time window too', () => {
      const { env, bids: stream } = bids();
      const out = stream.keyBy('user').window(TumblingEventTimeWindows.of(10)).trigger(PurgingTrigger.of(CountTrigger.of(4))).process((bs: Bid[]) => [bs.length]);
      out.print();
      expect(vertexById(env, out.id)).to.deep.include({ assigner: { type: 'tumbling', sizeMs: 10 }, trigger: { type: 'count', count: 4, purge: true } });
      expect(vertexById(env, out.id)).to.not.have.property('evictor');
      expectValid(env.getDescriptor());
    });

    it('refuses a global window without a trigger when the window function is given, for every function', () => {
      const { env, bids: stream } = bids();
      const message = /^a GlobalWindows window never ends, so only a trigger fires it: add \.trigger\(CountTrigger\.of\(n\)\)$/;
      const keyed = () => stream.keyBy('user').window(GlobalWindows.create());
      const all = () => stream.windowAll(GlobalWindows.create());
      for (const windows of [keyed, all]) {
        expectInvalid(() => windows().reduce(sum), message);
        expectInvalid(() => windows().aggregate({ create: () => 0, add: (n: number) => n, result: (n: number) => n }), message);
        expectInvalid(() => windows().process((bs: Bid[]) => bs), message);
        expectInvalid(() => windows().distinct(), message);
        expectInvalid(() => windows().topN(1, 'price'), message);
        expectInvalid(() => windows().sortBy(), message);
        // An evictor alone does not fire the window.
        expectInvalid(() => windows().evictor(CountEvictor.of(2)).reduce(sum), message);
      }
      expect(graph(env).vertices).to.have.length(1);
    });

    it('refuses a trigger or evictor that is not a count one', () => {
      const { bids: stream } = bids();
      const windowed = stream.keyBy('user').window(GlobalWindows.create());
      expectInvalid(() => windowed.trigger({ type: 'processingTime' } as never), /^trigger\(\) expects CountTrigger\.of\(n\) or PurgingTrigger\.of\(CountTrigger\.of\(n\)\)$/);
      expectInvalid(() => windowed.evictor({ type: 'time', ms: 5 } as never), /^evictor\(\) expects CountEvictor\.of\(n\)$/);
      expectInvalid(() => windowed.evictor(null as never), /^evictor\(\) expects CountEvictor\.of\(n\)$/);
    });
  });

  describe('count windows', () => {
    it('keyBy().countWindow(size) is a global window with a purging count trigger of size', () => {
      const { env, bids: stream } = bids();
      const out = stream.keyBy('user').countWindow(3).reduce(sum);
      out.print();
      const vertex = vertexById(env, out.id);
      expect(vertex).to.deep.include({ operator: 'window', assigner: { type: 'global' }, trigger: { type: 'count', count: 3, purge: true } });
      expect(vertex).to.not.have.property('evictor');
      expect(edgesInto(env, out.id)).to.deep.equal([{ from: 'bids', to: out.id, partition: 'hash', key: { field: 'user' } }]);
      expectValid(env.getDescriptor());
    });

    it('keyBy().countWindow(size, slide) is a global window with a count evictor of size and a count trigger of slide', () => {
      const { env, bids: stream } = bids();
      const out = stream.keyBy('user').countWindow(5, 2).process((bs: Bid[]) => bs);
      out.print();
      expect(vertexById(env, out.id)).to.deep.include({
        assigner: { type: 'global' }, evictor: { type: 'count', count: 5 }, trigger: { type: 'count', count: 2 },
      });
      expect(vertexById(env, out.id).trigger).to.not.have.property('purge');
      expectValid(env.getDescriptor());
    });

    it('countWindowAll(size) and countWindowAll(size, slide) are the same, not keyed, at parallelism 1', () => {
      const { env, bids: stream } = bids();
      const tumbling = stream.countWindowAll(3).reduce(sum);
      const sliding = stream.countWindowAll(5, 2).reduce(sum);
      tumbling.print();
      sliding.print();
      expect(vertexById(env, tumbling.id)).to.deep.include({ assigner: { type: 'global' }, trigger: { type: 'count', count: 3, purge: true }, parallelism: 1 });
      expect(vertexById(env, tumbling.id)).to.not.have.property('evictor');
      expect(vertexById(env, sliding.id)).to.deep.include({ assigner: { type: 'global' }, evictor: { type: 'count', count: 5 }, trigger: { type: 'count', count: 2 }, parallelism: 1 });
      // The source runs at 2, the window at 1: the edge rebalances, without a key.
      for (const out of [tumbling, sliding]) expect(edgesInto(env, out.id)).to.deep.equal([{ from: 'bids', to: out.id, partition: 'rebalance' }]);
      expectValid(env.getDescriptor());
    });

    it('refuses a size or slide under 1, naming the call and which count', () => {
      const { bids: stream } = bids();
      expectInvalid(() => stream.keyBy('user').countWindow(0), /^countWindow\(0\): the size must be a whole number, at least 1$/);
      expectInvalid(() => stream.keyBy('user').countWindow(5, 0), /^countWindow\(5, 0\): the slide must be a whole number, at least 1$/);
      expectInvalid(() => stream.keyBy('user').countWindow(0, 2), /^countWindow\(0, 2\): the size must be/);
      expectInvalid(() => stream.countWindowAll(1.5), /^countWindow\(1\.5\): the size must be/);
    });
  });

  describe('windowAll', () => {
    it('windowAll(assigner) adds a window vertex at parallelism 1 whose input is not keyed', () => {
      const { env, bids: stream } = bids();
      const out = stream.windowAll(TumblingEventTimeWindows.of(10)).reduce(sum);
      out.collect({ uid: 'out' });
      expect(vertexById(env, out.id)).to.deep.equal({
        id: 'window-2', name: 'sum', operator: 'window', assigner: { type: 'tumbling', sizeMs: 10 }, reduce: vertexById(env, out.id).reduce, parallelism: 1,
      });
      expect(graph(env).edges).to.deep.equal([
        { from: 'bids', to: 'window-2', partition: 'rebalance' },
        { from: 'window-2', to: 'out', partition: 'rebalance' },
      ]);
      expectValid(env.getDescriptor());
    });

    it('keeps a rebalance() set on its input; forward when the input runs at 1', () => {
      const env = new StreamExecutionEnvironment();
      const source = env.fromElements(1, 2).uid('src');
      const forward = source.windowAll(TumblingProcessingTimeWindows.of(5)).process((xs: number[]) => xs);
      const rebalanced = source.rebalance().windowAll(TumblingProcessingTimeWindows.of(5)).process((xs: number[]) => xs);
      forward.print();
      rebalanced.print();
      expect(edgesInto(env, forward.id)).to.deep.equal([{ from: 'src', to: forward.id, partition: 'forward' }]);
      expect(edgesInto(env, rebalanced.id)).to.deep.equal([{ from: 'src', to: rebalanced.id, partition: 'rebalance' }]);
      expectValid(env.getDescriptor());
    });

    it('takes parallelism 1 in the options, and the other options', () => {
      const { env, bids: stream } = bids();
      const out = stream.windowAll(SlidingEventTimeWindows.of(10, 5)).allowedLateness(3).sideOutputLateData('late')
        .process((bs: Bid[]) => bs, { parallelism: 1, uid: 'all', name: 'everything', params: { k: 1 } });
      out.print();
      expect(vertexById(env, 'all')).to.deep.include({ name: 'everything', parallelism: 1, params: { k: 1 }, allowedLatenessMs: 3, lateTag: 'late' });
      expectValid(env.getDescriptor());
    });

    it('has late data as a side output', () => {
      const { env, bids: stream } = bids();
      const out = stream.windowAll(EventTimeSessionWindows.withGap(10)).sideOutputLateData('late').reduce(sum);
      out.getSideOutput('late').collect({ uid: 'late' });
      expect(edgesInto(env, 'late')).to.deep.equal([{ from: out.id, to: 'late', partition: 'rebalance', tag: 'late' }]);
      expectValid(env.getDescriptor());
    });

    it('refuses another parallelism in the options, saying why and what to do', () => {
      const { env, bids: stream } = bids();
      expectInvalid(() => stream.windowAll(TumblingEventTimeWindows.of(10)).reduce(sum, { parallelism: 2 }),
        /^windowAll\(\): one instance sees every record, so its parallelism is 1, not 2; keyBy\(\) first to window in parallel$/);
      expectInvalid(() => stream.countWindowAll(3).process((bs: Bid[]) => bs, { parallelism: 4 }), /parallelism is 1, not 4/);
      expectInvalid(() => stream.windowAll(TumblingEventTimeWindows.of(10)).topN(1, 'price', 'desc', { parallelism: 3 }), /parallelism is 1, not 3/);
      expect(graph(env).vertices).to.have.length(1);
    });

    it('refuses setParallelism(2) afterwards, and a descriptor that says it anyway', () => {
      const { env, bids: stream } = bids();
      const out = stream.windowAll(TumblingEventTimeWindows.of(10)).reduce(sum);
      out.print();
      expectInvalid(() => out.setParallelism(2), /^window-2\.setParallelism\(2\): a windowAll sees every record in one instance, so its parallelism is 1/);
      expect(() => out.setParallelism(1)).to.not.throw();
      const descriptor = env.getDescriptor();
      descriptor.vertices.find((v) => v.id === out.id)!.parallelism = 2;
      expect(issuesOf(descriptor)).to.deep.equal([{
        path: '/vertices/1',
        // The edge was resolved between parallelisms 2 and 1: rebalance.
        message: `'window-2' (window) is not keyed (its input is 'rebalance'), so one instance sees every record (windowAll): ` +
          `give it "parallelism": 1, or make its input a 'hash' edge with a key; its parallelism is 2`,
      }]);
    });

    it('a keyed window takes any parallelism', () => {
      const { env, bids: stream } = bids();
      stream.keyBy('user').window(TumblingEventTimeWindows.of(10)).reduce(sum, { parallelism: 3 }).setParallelism(4).print();
      expectValid(env.getDescriptor());
    });
  });

  describe('incremental aggregation with a window function', () => {
    it('reduce(fn, process) and aggregate(fn, process) put both functions on the vertex, and options still come last', () => {
      const { env, bids: stream } = bids();
      const reduced = stream.keyBy('user').window(TumblingEventTimeWindows.of(10))
        .reduce(sum, function total([bid]: Bid[], ctx) { return [{ user: ctx.key, total: bid!.price, end: ctx.window.end }]; }, { uid: 'totals' });
      const counted = stream.keyBy('user').window(EventTimeSessionWindows.withGap(5))
        .aggregate({ create: () => 0, add: (n: number) => n + 1, result: (n: number) => n, merge: (a: number, b: number) => a + b },
          function sessions([n]: number[], ctx) { return [{ user: ctx.key, n, start: ctx.window.start }]; });
      const plain = stream.keyBy('user').window(TumblingEventTimeWindows.of(10)).reduce(sum, { uid: 'plain' });
      for (const out of [reduced, counted, plain]) out.print();
      expect(reduced.id).to.equal('totals');
      expect(plain.id).to.equal('plain');
      expect(vertexById(env, 'totals')).to.have.property('reduce');
      expect(revive((vertexById(env, 'totals').process as string))([{ price: 7 }], { key: 'a', window: { start: 0, end: 10 } })).to.deep.equal([{ user: 'a', total: 7, end: 10 }]);
      expect(vertexById(env, counted.id)).to.have.property('aggregate');
      expect(vertexById(env, counted.id)).to.have.property('process');
      expect(vertexById(env, 'plain')).to.not.have.property('process');
      expectValid(env.getDescriptor());
    });

    it('a descriptor may give process with reduce or aggregate, but not reduce with aggregate', () => {
      const { env, bids: stream } = bids();
      stream.keyBy('user').window(TumblingEventTimeWindows.of(10)).reduce(sum, (elements: Bid[]) => elements).print();
      const descriptor = env.getDescriptor();
      const window = descriptor.vertices.find((v) => v.operator === 'window')! as unknown as Record<string, unknown>;
      window.aggregate = { create: '() => 0', add: '(n) => n + 1', result: '(n) => n' };
      expect(issuesOf(descriptor).map((i) => i.message)).to.deep.equal([`takes 'reduce' or 'aggregate' or 'process' or 'distinct' or 'topN' or 'sort', not both`]);
    });
  });

  describe('built-in window functions', () => {
    it('distinct() by whole records, or by a key', () => {
      const { env, bids: stream } = bids();
      const whole = stream.keyBy('user').window(TumblingEventTimeWindows.of(10)).distinct();
      const byPrice = stream.windowAll(TumblingEventTimeWindows.of(10)).distinct('price');
      const byFn = stream.keyBy('user').countWindow(2).distinct((b: Bid) => b.price % 2);
      for (const out of [whole, byPrice, byFn]) out.print();
      expect(vertexById(env, whole.id)).to.deep.include({ name: 'distinct', operator: 'window', distinct: true });
      expect(vertexById(env, byPrice.id)).to.deep.include({ distinct: { key: { field: 'price' } }, parallelism: 1 });
      const key = (vertexById(env, byFn.id).distinct as { key: { fn: string } }).key;
      expect(revive(key.fn)({ price: 5 })).to.equal(1);
      for (const out of [whole, byPrice, byFn]) {
        const vertex = vertexById(env, out.id);
        for (const fn of ['reduce', 'aggregate', 'process', 'topN', 'sort']) expect(vertex, `${out.id} ${fn}`).to.not.have.property(fn);
      }
      expectValid(env.getDescriptor());
    });

    it('topN(n, by, order): descending by default', () => {
      const { env, bids: stream } = bids();
      const top = stream.keyBy('user').window(TumblingEventTimeWindows.of(10)).topN(3, 'price');
      const bottom = stream.windowAll(TumblingEventTimeWindows.of(10)).topN(1, (b: Bid) => -b.price, 'asc', { uid: 'bottom' });
      top.print();
      bottom.print();
      expect(vertexById(env, top.id)).to.deep.include({ name: 'topN', topN: { n: 3, by: { field: 'price' }, order: 'desc' } });
      expect(vertexById(env, 'bottom')).to.deep.include({ parallelism: 1 });
      expect((vertexById(env, 'bottom').topN as { order: string }).order).to.equal('asc');
      expectValid(env.getDescriptor());
    });

    it('sortBy(): by event time ascending by default, or by a field in either order', () => {
      const { env, bids: stream } = bids();
      const byTime = stream.keyBy('user').window(TumblingEventTimeWindows.of(10)).sortBy();
      const byPrice = stream.windowAll(TumblingEventTimeWindows.of(10)).sortBy('price', 'desc');
      const byTimeDesc = stream.keyBy('user').window(TumblingEventTimeWindows.of(10)).sortBy(undefined, 'desc');
      for (const out of [byTime, byPrice, byTimeDesc]) out.print();
      expect(vertexById(env, byTime.id)).to.deep.include({ name: 'sortBy', sort: { order: 'asc' } });
      expect(vertexById(env, byPrice.id)).to.deep.include({ sort: { by: { field: 'price' }, order: 'desc' }, parallelism: 1 });
      expect(vertexById(env, byTimeDesc.id)).to.deep.include({ sort: { order: 'desc' } });
      expectValid(env.getDescriptor());
    });

    it('refuses topN(0), a count not whole, and an order other than asc or desc', () => {
      const { env, bids: stream } = bids();
      const windowed = stream.keyBy('user').window(TumblingEventTimeWindows.of(10));
      expectInvalid(() => windowed.topN(0, 'price'), /^topN\(n\) expects a whole number, at least 1; got 0$/);
      expectInvalid(() => windowed.topN(2.5, 'price'), /^topN\(n\) expects .* got 2\.5$/);
      expectInvalid(() => windowed.topN(1, 'price', 'up' as never), /^topN\(\): the order is 'asc' or 'desc', not up$/);
      expectInvalid(() => windowed.sortBy('price', 'DESC' as never), /^sortBy\(\): the order is 'asc' or 'desc', not DESC$/);
      expectInvalid(() => windowed.sortBy(undefined, null as never), /^sortBy\(\): the order is 'asc' or 'desc', not null$/);
      expectInvalid(() => windowed.distinct('' as never), /^keyBy\(\): the field name must not be empty$/);
      expect(graph(env).vertices).to.have.length(1);
    });
  });

  describe('process() on a stream that is not keyed', () => {
    it('adds a process vertex whose input edge has no key', () => {
      const { env, bids: stream } = bids();
      const out = stream.process(function expensive(b: Bid, ctx) { if (b.price > 4) ctx.output('big', b); return [b.user]; });
      out.collect();
      expect(vertexById(env, out.id)).to.deep.equal({ id: 'process-2', name: 'expensive', operator: 'process', fn: vertexById(env, out.id).fn });
      expect(edgesInto(env, out.id)).to.deep.equal([{ from: 'bids', to: 'process-2', partition: 'forward' }]);
      const emitted: unknown[] = [];
      expect(revive(vertexById(env, out.id).fn)({ user: 'a', price: 5 }, { output: (_tag: string, v: unknown) => emitted.push(v) })).to.deep.equal(['a']);
      expect(emitted).to.deep.equal([{ user: 'a', price: 5 }]);
      expectValid(env.getDescriptor());
    });

    it('has side outputs', () => {
      const { env, bids: stream } = bids();
      const out = stream.process((b: Bid) => [b], { parallelism: 1 });
      out.getSideOutput('big').collect({ uid: 'big' });
      expect(edgesInto(env, 'big')).to.deep.equal([{ from: out.id, to: 'big', partition: 'rebalance', tag: 'big' }]);
      expectValid(env.getDescriptor());
    });

    it('refuses a function that cannot be shipped', () => {
      const { bids: stream } = bids();
      expectInvalid(() => stream.process(42 as never), /^process\(\) expects a function/);
    });
  });

  describe('sortByEventTime()', () => {
    it('adds an eventTimeSort vertex, with the late tag when given', () => {
      const { env, bids: stream } = bids();
      const plain = stream.sortByEventTime();
      const withLate = stream.sortByEventTime({ lateTag: 'late', parallelism: 1, uid: 'sorted' });
      plain.print();
      withLate.print();
      expect(vertexById(env, plain.id)).to.deep.equal({ id: 'eventTimeSort-2', name: 'sortByEventTime', operator: 'eventTimeSort' });
      expect(vertexById(env, 'sorted')).to.deep.equal({ id: 'sorted', name: 'sortByEventTime', operator: 'eventTimeSort', lateTag: 'late', parallelism: 1 });
      expect(edgesInto(env, plain.id)).to.deep.equal([{ from: 'bids', to: plain.id, partition: 'forward' }]);
      expectValid(env.getDescriptor());
    });

    it('has late records as a side output', () => {
      const { env, bids: stream } = bids();
      const sorted = stream.sortByEventTime({ lateTag: 'late' });
      sorted.getSideOutput('late').collect({ uid: 'late' });
      expect(edgesInto(env, 'late')).to.deep.equal([{ from: sorted.id, to: 'late', partition: 'forward', tag: 'late' }]);
      expectValid(env.getDescriptor());
    });

    it('refuses an empty or non-string late tag', () => {
      const { bids: stream } = bids();
      expectInvalid(() => stream.sortByEventTime({ lateTag: '' }), /^sortByEventTime\(\): lateTag must be a non-empty string$/);
      expectInvalid(() => stream.sortByEventTime({ lateTag: 5 as never }), /lateTag must be a non-empty string/);
    });
  });

  describe('getSideOutput()', () => {
    it('is taken on window, process, eventTimeSort; refused on map, filter and reduce', () => {
      const { bids: stream } = bids();
      expect(() => stream.keyBy('user').countWindow(2).reduce(sum).getSideOutput('late')).to.not.throw();
      expect(() => stream.process((b: Bid) => [b]).getSideOutput('x')).to.not.throw();
      expect(() => stream.sortByEventTime().getSideOutput('late')).to.not.throw();
      expectInvalid(() => stream.map((b) => b).getSideOutput('x'), /^getSideOutput\('x'\): map has no side outputs; process functions, interval joins, broadcast process functions, and windows and sorts \(their late data\) have$/);
      expectInvalid(() => stream.filter(() => true).getSideOutput('x'), /filter has no side outputs/);
      expectInvalid(() => stream.keyBy('user').reduce(sum).getSideOutput('x'), /reduce has no side outputs/);
      expectInvalid(() => stream.process((b: Bid) => [b]).getSideOutput(''), /^getSideOutput\(\) expects a non-empty tag$/);
    });
  });
});
