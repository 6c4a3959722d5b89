import { expect } from 'chai';
import { captureFunction, StreamExecutionEnvironment, TumblingEventTimeWindows, type ProcessContext, type WindowContext } from '../../lib/api/index.ts';
import { ClusterClient } from '../../lib/client/index.ts';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import { instantiateUserFunction } from '../../lib/descriptor/udf.ts';
import { useProcessCluster } from '../helpers/cluster.ts';
import { range, type TestNats } from '../helpers/nats.ts';

interface Knobs { seed: number; keys: number; stepMs: number; disorderMs: number; periodMs: number }

/** One generated event: `id` is its index. */
interface Ev { k: string; t: number; v: number; id: number }

/** What onTimer reports per key and period: the period's count and sums, and the key's count over every period so far. */
interface Report { k: string; end: number; n: number; v: number; id: number; total: number }

/**
 * Event i: shipped as source text, so it reads only `params` (a Knobs). A subtask emits its share
 * in ascending order and each event is within the disorder of the time so far, so none is late.
 */
function event(i: number): Ev {
  const p = params as Knobs;
  let h = Math.imul((i + 1) ^ p.seed, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = (h ^ (h >>> 13)) >>> 0;
  const t = Math.floor(i / 4) * p.stepMs - ((h >>> 8) % (p.disorderMs + 1));
  return { k: `k${h % p.keys}`, t, v: (h >>> 4) % 100, id: i };
}

/** Counts the record into its period's entry, and sets a timer at the period's last millisecond (once per key and period: set twice, it fires once). */
function count(e: Ev, ctx: ProcessContext<string>): void {
  const period = (params as Knobs).periodMs;
  const end = Math.floor(e.t / period) * period + period - 1;
  const periods = ctx.state.map<number, [number, number, number]>('periods');
  const [n, v, id] = periods.get(end) ?? [0, 0, 0];
  periods.put(end, [n + 1, v + e.v, id + e.id]);
  ctx.timerService.registerEventTimeTimer(end);
}

/** Reports the period that ended, and the key's running count, which is right only if the key's timers fire in time order. */
function report(time: number, ctx: ProcessContext<string>): Report[] {
  const periods = ctx.state.map<number, [number, number, number]>('periods');
  const [n, v, id] = periods.get(time)!;
  periods.remove(time);
  const total = ctx.state.value<number>('total');
  total.update((total.value() ?? 0) + n);
  return [{ k: ctx.key, end: time, n, v, id, total: total.value()! }];
}

/** The events as the Task Managers generate them: the shipped text, instantiated as they do. */
async function eventsOf(count: number, knobs: Knobs): Promise<Ev[]> {
  const at = await instantiateUserFunction(captureFunction(event, 'generate()').fn, knobs as unknown as Record<string, unknown>, 'reference');
  return range(count).map((i) => at(i) as Ev);
}

/** The plain loop: per key, each period with events, in time order, with the running count. */
function expectedReports(events: Ev[], periodMs: number): Report[] {
  const byKey = new Map<string, Map<number, Report>>();
  for (const e of events) {
    const end = Math.floor(e.t / periodMs) * periodMs + periodMs - 1;
    const periods = byKey.get(e.k) ?? byKey.set(e.k, new Map()).get(e.k)!;
    const r = periods.get(end) ?? periods.set(end, { k: e.k, end, n: 0, v: 0, id: 0, total: 0 }).get(end)!;
    r.n++;
    r.v += e.v;
    r.id += e.id;
  }
  return [...byKey.values()].flatMap((periods) => {
    let total = 0;
    return [...periods.values()].sort((a, b) => a.end - b.end).map((r) => ({ ...r, total: (total += r.n) }));
  });
}

/** Records as sorted JSON lines: equal multisets compare equal, and a difference shows as lines. */
const lines = (records: unknown[]): string[] => records.map((r) => JSON.stringify(r)).sort();

describe('keyed process functions with event-time timers on a cluster of real processes', function () {
  this.timeout(60_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  // 2 TMs × 2 slots: a job of parallelism 4 takes them all.
  useProcessCluster('process-timers', 2, 2, (started) => ({ nats, cluster, client } = started));

  for (const [parallelism, seed] of [[1, 31], [4, 32]] as const) {
    it(`reports each key's count every period of event time, as the plain loop does (parallelism ${parallelism})`, async () => {
      const COUNT = 8000;
      const knobs: Knobs = { seed, keys: 10, stepMs: 2, disorderMs: 40, periodMs: 250 };
      const events = await eventsOf(COUNT, knobs);

      const env = new StreamExecutionEnvironment(client, { parallelism, params: { ...knobs } });
      // Paced over about 1 s, so that timers fire on watermarks as events flow, not all at the end.
      const reports = env.generate(COUNT, event, { uid: 'events', ratePerSecond: 8000 })
        .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 10 })
        .keyBy('k').process(count, { uid: 'counts', onTimer: report });
      reports.collect({ uid: 'reports' });
      // A report carries its timer's time, so that it falls in its own period of a window downstream.
      reports.keyBy(function everything() { return 'all'; }).window(TumblingEventTimeWindows.of(knobs.periodMs))
        .process(function perPeriod(all: Report[], ctx: WindowContext<string>) {
          return [{ start: ctx.window.start, ends: [...new Set(all.map((r) => r.end))], n: all.reduce((s, r) => s + r.n, 0) }];
        }, { uid: 'per-period' })
        .collect({ uid: 'periods' });

      const result = await (await env.execute(`process-timers-${parallelism}`)).result();
      expect(result.state, result.cause).to.equal('FINISHED');
      const expected = expectedReports(events, knobs.periodMs);
      expect(expected.length, 'reports').to.be.greaterThan(100);
      expect(lines(result.collected.reports!), 'one report per key and period, with the running count').to.deep.equal(lines(expected));
      const perPeriod = new Map<number, number>();
      for (const r of expected) perPeriod.set(r.end - knobs.periodMs + 1, (perPeriod.get(r.end - knobs.periodMs + 1) ?? 0) + r.n);
      expect(lines(result.collected.periods!), 'reports windowed by their timestamps')
        .to.deep.equal(lines([...perPeriod].map(([start, n]) => ({ start, ends: [start + knobs.periodMs - 1], n }))));
    });
  }
});
