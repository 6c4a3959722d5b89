import { expect } from 'chai';
import { StreamExecutionEnvironment } from '../../lib/api/index.ts';
import { ClusterClient } from '../../lib/client/index.ts';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import { nexmarkEventGenerator, type NexmarkConfig, type NexmarkEvent } from '../../lib/nexmark/index.ts';
import { QUERIES, WINDOWED, withEventTime, type QueryName } from '../../scripts/examples/nexmark/queries.ts';
import { useProcessCluster } from '../helpers/cluster.ts';
import * as reference from '../helpers/nexmark-reference.ts';
import { auctionsOf, bidsOf, tumbleStart, WINDOW_10S_MS } from '../helpers/nexmark-reference.ts';
import { range, type TestNats } from '../helpers/nats.ts';

/** A row as JSON with its keys sorted: rows equal by value compare equal whatever their key order. */
const canonical = (row: unknown): string =>
  JSON.stringify(row, (_key, value: unknown) => (value !== null && typeof value === 'object' && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
    : value));

/** Rows as sorted canonical lines: equal multisets compare equal, and a difference shows as lines. */
const lines = (rows: readonly unknown[]): string[] => rows.map(canonical).sort();

/**
 * The runs: q0 and q1 emit every bid (46 in 50 events, ~150 bytes each) and stay at 5 000 events,
 * their collected rows well under what a job's result can carry back in one NATS message.
 * The windowed ones get 1 000 events per second of event time, so 60 000 events span 60 s: six q7
 * windows, thirty q5 hops, many q11 sessions. q3 and q4 run on those same events: their 3 600
 * auctions give q3 a few hundred joined rows and q4 five categories, auctions lasting up to 3.3 s
 * of event time, so most close by a timer mid-run rather than at end of input.
 */
const RUNS: Record<QueryName, { events: number; config: NexmarkConfig }> = {
  q0: { events: 5_000, config: {} },
  q1: { events: 5_000, config: {} },
  q2: { events: 200_000, config: {} },
  q3: { events: 60_000, config: { firstEventRate: 1_000 } },
  q4: { events: 60_000, config: { firstEventRate: 1_000 } },
  q5: { events: 60_000, config: { firstEventRate: 1_000 } },
  q7: { events: 60_000, config: { firstEventRate: 1_000 } },
  q8: { events: 60_000, config: { firstEventRate: 1_000 } },
  q11: { events: 60_000, config: { firstEventRate: 1_000 } },
};

const generated = new Map<string, NexmarkEvent[]>();
/** The events the sources generate, generated here by the same function; shared by runs of the same size. */
function eventsOf(count: number, config: NexmarkConfig): NexmarkEvent[] {
  const id = `${count}/${canonical(config)}`;
  if (!generated.has(id)) {
    const at = nexmarkEventGenerator(config);
    generated.set(id, range(count).map((i) => at(i)));
  }
  return generated.get(id)!;
}

/**
 * The reference's q7 rows that come only from the SQL's BETWEEN including window_end: a bid made
 * at exactly a window's end (so in the next window) whose price equals the previous window's
 * maximum. The engine's windows are [start, end), so it gives no such row.
 */
function q7BetweenQuirkRows(events: readonly NexmarkEvent[]): reference.Q7Row[] {
  const maxByWindow = new Map<number, number>();
  for (const bid of bidsOf(events)) {
    const start = tumbleStart(bid.dateTime, WINDOW_10S_MS);
    maxByWindow.set(start, Math.max(maxByWindow.get(start) ?? Number.NEGATIVE_INFINITY, bid.price));
  }
  return bidsOf(events)
    .filter((bid) => bid.dateTime % WINDOW_10S_MS === 0 && maxByWindow.get(bid.dateTime - WINDOW_10S_MS) === bid.price)
    .map(({ auction, bidder, price, dateTime, extra }) => ({ auction, bidder, price, dateTime, extra }));
}

/** `rows` less one occurrence of each of `removed` (each must be there). */
function without(rows: readonly unknown[], removed: readonly unknown[]): string[] {
  const left = lines(rows);
  for (const line of removed.map(canonical)) {
    const at = left.indexOf(line);
    expect(at, `the quirk row ${line} is among the reference's`).to.be.at.least(0);
    left.splice(at, 1);
  }
  return left;
}

/**
 * The rows a query ends with: q4 updates its result, a row per category each time the
 * category's average changes, so its result is the last row of each category. Every row of a
 * category comes from one subtask, in order, and a subtask's collected rows keep their order.
 */
function finalRows(query: QueryName, rows: readonly unknown[]): unknown[] {
  if (query !== 'q4') return [...rows];
  const last = new Map<number, unknown>();
  for (const row of rows as reference.Q4Row[]) last.set(row.category, row);
  return [...last.values()];
}

/** The bids that come before their auction in the input: q4 must keep them until it comes. */
function bidsBeforeTheirAuction(events: readonly NexmarkEvent[]): number {
  const seen = new Set<number>();
  let early = 0;
  for (const event of events) {
    if (event.type === 'auction') seen.add(event.auction.id);
    else if (event.type === 'bid' && !seen.has(event.bid.auction)) early += 1;
  }
  return early;
}

/** The auctions with a bid in their bidding period: q4 emits one row as each of them closes. */
function auctionsWithAWinningBid(events: readonly NexmarkEvent[]): number {
  const byId = new Map(auctionsOf(events).map((auction) => [auction.id, auction]));
  const winners = new Set<number>();
  for (const bid of bidsOf(events)) {
    const auction = byId.get(bid.auction);
    if (auction && bid.dateTime >= auction.dateTime && bid.dateTime <= auction.expires) winners.add(auction.id);
  }
  return winners.size;
}

/** What the engine must give: the reference's rows, as lines, less q7's BETWEEN quirk. */
function expectedLines(query: QueryName, events: readonly NexmarkEvent[]): string[] {
  switch (query) {
    case 'q0': return lines(reference.q0(events));
    case 'q1': return lines(reference.q1(events));
    case 'q2': return lines(reference.q2(events));
    case 'q3': return lines(reference.q3(events));
    case 'q4': return lines(reference.q4(events));
    case 'q5': return lines(reference.q5(events));
    case 'q7': return without(reference.q7(events), q7BetweenQuirkRows(events));
    case 'q8': return lines(reference.q8(events));
    case 'q11': return lines(reference.q11(events));
    default: { const never: never = query; throw new Error(`no reference for ${String(never)}`); }
  }
}

describe('Nexmark queries on a cluster of real processes, against the plain-loop reference', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  // 2 TMs × 2 slots: a job of parallelism 4 takes them all.
  useProcessCluster('nexmark', 2, 2, (started) => ({ nats, cluster, client } = started));

  it('(the runs) give every windowed query several windows, q7 a row per window, q2 some rows, q3, q4 and q8 rows and early bids, q0 fewer rows than the collect limit', () => {
    for (const query of WINDOWED) {
      const { events, config } = RUNS[query];
      const times = bidsOf(eventsOf(events, config)).map((bid) => bid.dateTime);
      expect(Math.max(...times) - Math.min(...times), `${query}: event time spanned`).to.be.at.least(5 * WINDOW_10S_MS);
    }
    const q7 = eventsOf(RUNS.q7.events, RUNS.q7.config);
    expect(reference.q7(q7).length, 'q7 reference rows').to.be.at.least(new Set(bidsOf(q7).map((bid) => tumbleStart(bid.dateTime, WINDOW_10S_MS))).size);
    expect(reference.q2(eventsOf(RUNS.q2.events, RUNS.q2.config)).length, 'q2 selects some bids').to.be.greaterThan(0);
    expect(bidsOf(eventsOf(RUNS.q0.events, RUNS.q0.config)).length, 'q0 rows under the collect limit').to.be.below(100_000);
    expect(reference.q3(eventsOf(RUNS.q3.events, RUNS.q3.config)).length, 'q3 joins some auctions').to.be.at.least(100);
    expect(reference.q8(eventsOf(RUNS.q8.events, RUNS.q8.config)).length, 'q8 finds new users').to.be.at.least(100);
    const q4 = eventsOf(RUNS.q4.events, RUNS.q4.config);
    expect(reference.q4(q4).length, 'q4 categories').to.equal(5);
    expect(bidsBeforeTheirAuction(q4), 'q4 bids that come before their auction').to.be.greaterThan(0);
    const auctions = auctionsOf(q4);
    const lastEventTime = Math.max(...bidsOf(q4).map((bid) => bid.dateTime));
    expect(auctions.filter((auction) => auction.expires < lastEventTime).length, 'q4 auctions that close before the input ends')
      .to.be.greaterThan(auctions.length / 2);
  });

  for (const query of Object.keys(QUERIES) as QueryName[]) {
    for (const parallelism of [1, 4]) {
      it(`${query} gives the reference's rows (parallelism ${parallelism})`, async () => {
        const { events: count, config } = RUNS[query];
        const events = eventsOf(count, config);
        const env = new StreamExecutionEnvironment(client, { parallelism });
        const source = env.nexmark(count, { uid: 'nexmark', config });
        QUERIES[query](WINDOWED.includes(query) ? withEventTime(source) : source).collect({ uid: 'rows' });

        const result = await (await env.execute(`nexmark-${query}-${parallelism}`)).result();
        expect(result.state, result.cause).to.equal('FINISHED');
        const got = lines(finalRows(query, result.collected.rows!));
        const expected = expectedLines(query, events);
        expect(expected.length, `${query}: the reference has rows`).to.be.greaterThan(0);
        if (query === 'q4') expect(result.collected.rows!.length, 'q4: a row per auction won').to.equal(auctionsWithAWinningBid(events));
        expect(got.length, `${query}: rows`).to.equal(expected.length);
        expect(got, `${query}: rows as a multiset`).to.deep.equal(expected);
      });
    }
  }
});
