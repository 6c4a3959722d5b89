/**
 * Nexmark queries on a cluster, in events per second per core, next to a plain loop and an
 * RxJS pipeline doing the same work on the same generated events in this process, and next
 * to Flink's published per-core figures. Every run's result count is checked against the
 * plain loop's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, map, range, type Observable } from 'rxjs';
import { StreamExecutionEnvironment } from '../../lib/api/index.ts';
import { ClusterClient } from '../../lib/client/index.ts';
import { startLocalCluster } from '../../lib/cluster/local.ts';
import { loadConfig } from '../../lib/config/index.ts';
import { nexmarkEventGenerator, type NexmarkEvent } from '../../lib/nexmark/index.ts';
import { QUERIES, WINDOWED, withEventTime, type QueryName } from '../examples/nexmark/queries.ts';
import { cpuMeter, formatCpu } from './cpu.ts';
import { formatColumns } from './report.ts';
import type { Scope } from './scope.ts';

export interface NexmarkBenchOptions {
  events: number;
  queries: QueryName[];
  parallelisms: number[];
}

/**
 * Flink's published per-core throughput (events/s/core) of the Nexmark queries, from the
 * nexmark project's results on its reference cluster; the issue's anchors. q1 and q2 have
 * none stated there.
 */
export const FLINK_PER_CORE: Partial<Record<QueryName, number>> = { q0: 380_000, q5: 75_000, q7: 23_000 };

export interface NexmarkRow {
  query: QueryName;
  system: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** The cores it used: 1 for the in-process loops, the job's parallelism on the cluster. */
  cores: number;
  eventsPerSecondPerCore: number;
  /** Events per CPU second of the Task Manager processes (cloudflink rows): per core, measured rather than assumed. */
  eventsPerCpuSecond?: number;
  vsPlain: number;
  vsFlink?: number;
  results: number;
  verified: string;
  cpuSeconds?: Record<string, number>;
}

export interface NexmarkReport {
  benchmark: 'nexmark';
  startedAt: string;
  machine: { cpus: number; node: string; platform: string; loadAverage: number };
  params: NexmarkBenchOptions;
  rows: NexmarkRow[];
}

type Progress = (line: string) => void;

export async function nexmarkBench(options: NexmarkBenchOptions, scope: Scope, progress: Progress): Promise<NexmarkReport> {
  const startedAt = new Date().toISOString();
  const loadAverage = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'cloudflink-bench-nexmark-'));
  scope.defer('remove the temp dir', () => rmSync(dir, { recursive: true, force: true }));
  const rows: NexmarkRow[] = [];
  const baselines = new Map<QueryName, { eventsPerSecond: number; results: number }>();
  for (const query of options.queries) {
    progress(`${query}: plain loop over ${options.events.toLocaleString('en-US')} events`);
    const plain = timed(() => PLAIN[query](options.events));
    baselines.set(query, { eventsPerSecond: options.events / plain.seconds, results: plain.results });
    rows.push(row(query, 'plain loop', options.events, plain.seconds, 1, plain.results, 'reference'));
    const rxjsWork = RXJS[query];
    if (rxjsWork) {
      progress(`${query}: RxJS`);
      const rx = timed(() => rxjsWork(options.events));
      rows.push(row(query, 'RxJS', options.events, rx.seconds, 1, rx.results, check(rx.results, plain.results)));
    }
  }

  progress('starting nats-server, a Job Manager and 2 Task Managers × 2 slots');
  const cluster = await startLocalCluster({
    config: loadConfig({ overrides: { log: { level: 'warn' } } }),
    taskManagers: 2,
    slots: 2,
    taskManagerStdout: 'ignore',
    logDir: join(dir, 'logs'),
  });
  scope.defer('stop the cluster', () => cluster.stop());
  const client = await ClusterClient.connect(cluster.config);
  scope.defer('close the client', () => client.close());
  const taskManagers = Object.fromEntries([...cluster.taskManagers].map(([tmId, child]) => [tmId, child.pid]));

  for (const query of options.queries) {
    for (const parallelism of options.parallelisms) {
      const system = `cloudflink p=${parallelism}`;
      progress(`${query}: ${system}`);
      const env = new StreamExecutionEnvironment(client, { parallelism });
      const source = env.nexmark(options.events);
      const sink = QUERIES[query](WINDOWED.includes(query) ? withEventTime(source) : source).discard();
      const cpu = cpuMeter(taskManagers);
      const result = await (await env.execute(`nexmark-${query}-p${parallelism}`)).result();
      const cpuSeconds = cpu();
      if (result.state !== 'FINISHED') throw new Error(`nexmark ${query} at p=${parallelism} ended ${result.state}: ${result.cause ?? ''}`);
      const results = result.vertices.find((v) => v.vertexId === sink.id)!.recordsIn;
      const seconds = result.durationMs! / 1000;
      const expected = baselines.get(query)!.results;
      const tmCpu = Object.values(cpuSeconds).reduce((sum, s) => sum + s, 0);
      rows.push({
        ...row(query, system, options.events, seconds, parallelism, results, check(results, expected)),
        eventsPerCpuSecond: tmCpu > 0 ? options.events / tmCpu : undefined,
        cpuSeconds,
      });
    }
  }
  for (const r of rows) {
    r.vsPlain = r.eventsPerSecondPerCore / baselines.get(r.query)!.eventsPerSecond;
    const flink = FLINK_PER_CORE[r.query];
    if (flink) r.vsFlink = r.eventsPerSecondPerCore / flink;
  }
  return {
    benchmark: 'nexmark', startedAt,
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}`, loadAverage },
    params: options, rows,
  };
}

function row(query: QueryName, system: string, events: number, seconds: number, cores: number, results: number, verified: string): NexmarkRow {
  const eventsPerSecond = events / seconds;
  return { query, system, events, seconds, eventsPerSecond, cores, eventsPerSecondPerCore: eventsPerSecond / cores, vsPlain: 0, results, verified };
}

function timed(run: () => number): { seconds: number; results: number } {
  const started = performance.now();
  const results = run();
  return { seconds: (performance.now() - started) / 1000, results };
}

function check(results: number, expected: number): string {
  return results === expected ? 'ok' : `WRONG: ${results} results, expected ${expected}`;
}

// The same work as the queries in scripts/examples/nexmark/queries.ts: generate every event,
// keep the bids, make the rows. Each returns how many rows it made.
type Work = (events: number) => number;

const bidRow = (event: NexmarkEvent) => {
  const { auction, bidder, price, dateTime, extra } = (event as Extract<NexmarkEvent, { type: 'bid' }>).bid;
  return { auction, bidder, price, dateTime, extra };
};

type BidRow = ReturnType<typeof bidRow>;

/** The last row each baseline made: kept where the JIT cannot prove it unused. */
export let lastRow: unknown;

function plainLoop(events: number, keep: (row: BidRow) => unknown): number {
  const generate = nexmarkEventGenerator();
  let results = 0;
  for (let i = 0; i < events; i++) {
    const event = generate(i);
    if (event.type !== 'bid') continue;
    const out = keep(bidRow(event));
    if (out === undefined) continue;
    lastRow = out;
    results++;
  }
  return results;
}

const PLAIN: Record<QueryName, Work> = {
  q0: (events) => plainLoop(events, (bid) => bid),
  q1: (events) => plainLoop(events, (bid) => ({ ...bid, price: (bid.price * 908) / 1000 })),
  q2: (events) => plainLoop(events, (bid) => (bid.auction % 123 === 0 ? { auction: bid.auction, price: bid.price } : undefined)),
  q3: plainLocalItems,
  q4: plainWinningBids,
  q5: plainHotItems,
  q7: plainHighestBids,
  q8: plainNewUsers,
  q11: plainSessions,
};

/** q3 in one loop: a join of category-10 auctions and OR/ID/CA sellers, each side kept for the other. */
function plainLocalItems(events: number): number {
  const generate = nexmarkEventGenerator();
  const auctionsBySeller = new Map<number, number[]>();
  const sellersById = new Map<number, { name: string; city: string; state: string }[]>();
  let results = 0;
  for (let i = 0; i < events; i++) {
    const event = generate(i);
    if (event.type === 'auction' && event.auction.category === 10) {
      const { id, seller } = event.auction;
      let ids = auctionsBySeller.get(seller);
      if (!ids) auctionsBySeller.set(seller, (ids = []));
      ids.push(id);
      for (const person of sellersById.get(seller) ?? []) {
        lastRow = { ...person, id };
        results++;
      }
    } else if (event.type === 'person' && (event.person.state === 'OR' || event.person.state === 'ID' || event.person.state === 'CA')) {
      const { id, name, city, state } = event.person;
      let people = sellersById.get(id);
      if (!people) sellersById.set(id, (people = []));
      people.push({ name, city, state });
      for (const auction of auctionsBySeller.get(id) ?? []) {
        lastRow = { name, city, state, id: auction };
        results++;
      }
    }
  }
  return results;
}

/** q4 in one loop: each auction's highest bid in its bidding period, then a running average per category (a row per auction that has one). */
function plainWinningBids(events: number): number {
  const generate = nexmarkEventGenerator();
  const auctions = new Map<number, { category: number; dateTime: number; expires: number }>();
  const bids: { auction: number; price: number; dateTime: number }[] = [];
  for (let i = 0; i < events; i++) {
    const event = generate(i);
    if (event.type === 'auction') auctions.set(event.auction.id, event.auction);
    else if (event.type === 'bid') bids.push(event.bid);
  }
  const winning = new Map<number, { category: number; final: number }>();
  for (const bid of bids) {
    const auction = auctions.get(bid.auction);
    if (!auction || bid.dateTime < auction.dateTime || bid.dateTime > auction.expires) continue;
    const current = winning.get(bid.auction);
    if (!current) winning.set(bid.auction, { category: auction.category, final: bid.price });
    else if (bid.price > current.final) current.final = bid.price;
  }
  const totals = new Map<number, { sum: number; count: number }>();
  for (const { category, final } of winning.values()) {
    const total = totals.get(category) ?? { sum: 0, count: 0 };
    total.sum += final;
    total.count++;
    totals.set(category, total);
    lastRow = { category, final: Math.trunc(total.sum / total.count) };
  }
  return winning.size;
}

/** q8 in one loop: the people who joined and opened an auction in the same tumbling 10 s window. */
function plainNewUsers(events: number): number {
  const generate = nexmarkEventGenerator();
  const sellers = new Set<string>();
  const people: { id: number; name: string; starttime: number }[] = [];
  for (let i = 0; i < events; i++) {
    const event = generate(i);
    if (event.type === 'auction') sellers.add(`${event.auction.seller}@${event.auction.dateTime - (event.auction.dateTime % 10_000)}`);
    else if (event.type === 'person') people.push({ id: event.person.id, name: event.person.name, starttime: event.person.dateTime - (event.person.dateTime % 10_000) });
  }
  const seen = new Set<string>();
  for (const person of people) {
    const group = `${person.id}@${person.starttime}/${person.name}`;
    if (seen.has(group) || !sellers.has(`${person.id}@${person.starttime}`)) continue;
    seen.add(group);
    lastRow = person;
  }
  return seen.size;
}

/** q11 in one loop: each bidder's bid times, cut into sessions where 10 s pass without a bid. */
function plainSessions(events: number): number {
  const generate = nexmarkEventGenerator();
  const times = new Map<number, number[]>();
  for (let i = 0; i < events; i++) {
    const event = generate(i);
    if (event.type !== 'bid') continue;
    const { bidder, dateTime } = event.bid;
    let list = times.get(bidder);
    if (!list) times.set(bidder, (list = []));
    list.push(dateTime);
  }
  let results = 0;
  for (const [bidder, list] of times) {
    list.sort((a, b) => a - b);
    let end = Number.NEGATIVE_INFINITY;
    for (const time of list) {
      if (time > end) {
        results++;
        lastRow = { bidder, starttime: time };
      }
      end = time + 10_000;
    }
  }
  return results;
}

/** q5 in one loop: bids counted per (10 s every 2 s) window and auction, then each window's most bid auctions. */
function plainHotItems(events: number): number {
  const generate = nexmarkEventGenerator();
  const windows = new Map<number, Map<number, number>>();
  for (let i = 0; i < events; i++) {
    const event = generate(i);
    if (event.type !== 'bid') continue;
    const { auction, dateTime } = event.bid;
    for (let start = dateTime - (dateTime % 2000); start > dateTime - 10_000; start -= 2000) {
      let counts = windows.get(start);
      if (!counts) windows.set(start, (counts = new Map()));
      counts.set(auction, (counts.get(auction) ?? 0) + 1);
    }
  }
  let results = 0;
  for (const [start, counts] of windows) {
    let max = 0;
    for (const num of counts.values()) if (num > max) max = num;
    for (const [auction, num] of counts) {
      if (num < max) continue;
      lastRow = { auction, num, windowStart: start, windowEnd: start + 10_000 };
      results++;
    }
  }
  return results;
}

/** q7 in one loop: each tumbling 10 s window's highest-priced bids. */
function plainHighestBids(events: number): number {
  const generate = nexmarkEventGenerator();
  const windows = new Map<number, { max: number; bids: BidRow[] }>();
  for (let i = 0; i < events; i++) {
    const event = generate(i);
    if (event.type !== 'bid') continue;
    const bid = bidRow(event);
    const start = bid.dateTime - (bid.dateTime % 10_000);
    const window = windows.get(start);
    if (!window || bid.price > window.max) windows.set(start, { max: bid.price, bids: [bid] });
    else if (bid.price === window.max) window.bids.push(bid);
  }
  let results = 0;
  for (const { bids } of windows.values()) {
    lastRow = bids.at(-1);
    results += bids.length;
  }
  return results;
}

function rxjs(events: number, query: (bids: Observable<BidRow>) => Observable<unknown>): number {
  const generate = nexmarkEventGenerator();
  let results = 0;
  const bids = range(0, events).pipe(map((i) => generate(i)), filter((event) => event.type === 'bid'), map(bidRow));
  query(bids).subscribe((row) => {
    lastRow = row;
    results++;
  });
  // range() is synchronous: the pipeline has completed here.
  return results;
}

/** The stateless queries through RxJS; the windowed ones have their plain loop as the in-process baseline. */
const RXJS: Partial<Record<QueryName, Work>> = {
  q0: (events) => rxjs(events, (bids) => bids),
  q1: (events) => rxjs(events, (bids) => bids.pipe(map((bid) => ({ ...bid, price: (bid.price * 908) / 1000 })))),
  q2: (events) => rxjs(events, (bids) => bids.pipe(
    filter((bid) => bid.auction % 123 === 0),
    map((bid) => ({ auction: bid.auction, price: bid.price })),
  )),
};

const COLUMNS: { title: string; cell(row: NexmarkRow): string }[] = [
  { title: 'query', cell: (r) => r.query },
  { title: 'system', cell: (r) => r.system },
  { title: 'seconds', cell: (r) => r.seconds.toFixed(2) },
  { title: 'events/s', cell: (r) => Math.round(r.eventsPerSecond).toLocaleString('en-US') },
  { title: 'events/s/core', cell: (r) => Math.round(r.eventsPerSecondPerCore).toLocaleString('en-US') },
  { title: 'events/CPU s', cell: (r) => (r.eventsPerCpuSecond === undefined ? '' : Math.round(r.eventsPerCpuSecond).toLocaleString('en-US')) },
  { title: '× plain', cell: (r) => r.vsPlain.toFixed(2) },
  { title: '× Flink/core', cell: (r) => (r.vsFlink === undefined ? '' : r.vsFlink.toFixed(2)) },
  { title: 'results', cell: (r) => r.verified },
];

export function formatNexmarkReport(report: NexmarkReport): string {
  const { machine, params } = report;
  return ['',
    `Nexmark, ${params.events.toLocaleString('en-US')} events per run, ${machine.cpus} cores, node ${machine.node}, load average ${machine.loadAverage.toFixed(1)} at the start`,
    '',
    formatColumns(COLUMNS, report.rows, new Set([0, 1, COLUMNS.length - 1])),
    '',
    'events/s: all generated events (persons, auctions, bids) over the run; cloudflink rows from the job\'s duration, submission → FINISHED.',
    'events/s/core: divided by the cores used (the parallelism; 1 for the loops); events/CPU s: over the Task Managers\' measured CPU seconds.',
    '× plain: per core, against the plain loop of the same query in this process; × Flink/core: against Flink\'s published',
    `  per-core figure (${Object.entries(FLINK_PER_CORE).map(([q, n]) => `${q} ≈ ${Math.round(n! / 1000)} K`).join(', ')} events/s/core, on server cores).`,
    'q0–q2 are chained end to end (source → filter → map → …): no record crosses a network. The others key their state:',
    '  q3 a join, q4 timers per auction, q5 and q11 windows, q8 a window coGroup; records cross between subtasks (over NATS',
    '  between the Task Managers at p=2); q7 is a windowAll, so each window meets in one subtask.',
    'results: rows out, checked against the loop (q4: a row per auction with a winning bid, the running average of its',
    '  category). RxJS runs the stateless queries; the stateful ones have the loop only.',
    ...report.rows.filter((r) => r.cpuSeconds).map((r) => `${r.query} ${r.system}: Task Manager CPU seconds ${formatCpu(r.cpuSeconds!)}`),
    ''].join('\n');
}
