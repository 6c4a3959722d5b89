/**
 * Nexmark queries written with the DataStream API, as the benchmark defines them
 * (github.com/nexmark/nexmark, nexmark-flink/src/main/resources/queries/qN.sql). Each takes
 * the stream of generator events and returns the query's result stream; the SQL is in the
 * comment. q4 and the windowed ones (q5, q7, q8, q11) need the events in event time: `withEventTime`.
 */
import {
  EventTimeSessionWindows, SlidingEventTimeWindows, TumblingEventTimeWindows, type DataStream, type ProcessContext, type SingleOutputStreamOperator,
} from '../../../lib/api/index.ts';
import type { Auction, Bid, NexmarkEvent, Person } from '../../../lib/nexmark/index.ts';

export interface BidRow { auction: number; bidder: number; price: number; dateTime: number; extra: string }

/** The `bid` view every query reads: the Bid events, as rows. */
export function bids(events: DataStream<NexmarkEvent>): SingleOutputStreamOperator<BidRow> {
  return events
    .filter(function isBid(event: NexmarkEvent) { return event.type === 'bid'; })
    .map(function bidRow(event: NexmarkEvent) {
      const { auction, bidder, price, dateTime, extra } = (event as { bid: Bid }).bid;
      return { auction, bidder, price, dateTime, extra };
    });
}

/**
 * q0, pass through: every bid as it is. What the source and the plumbing cost.
 *
 *   SELECT auction, bidder, price, dateTime, extra FROM bid;
 */
export function q0(events: DataStream<NexmarkEvent>): DataStream<BidRow> {
  return bids(events);
}

/**
 * q1, currency conversion: every bid with its price in euros. Flink computes 0.908 * price as
 * an exact decimal; price * 908 / 1000 is the nearest double to it.
 *
 *   SELECT auction, bidder, 0.908 * price as price, dateTime, extra FROM bid;
 */
export function q1(events: DataStream<NexmarkEvent>): DataStream<BidRow> {
  return bids(events).map(function toEuro(bid: BidRow) { return { ...bid, price: (bid.price * 908) / 1000 }; });
}

/**
 * q2, selection: the bids on a set of auctions (every 123rd auction id).
 *
 *   SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
 */
export function q2(events: DataStream<NexmarkEvent>): DataStream<{ auction: number; price: number }> {
  return bids(events)
    .filter(function everyHundredTwentyThird(bid: BidRow) { return bid.auction % 123 === 0; })
    .map(function auctionAndPrice(bid: BidRow) { return { auction: bid.auction, price: bid.price }; });
}

export interface SellerRow { id: number; name: string; city: string; state: string }
export interface LocalItem { name: string; city: string; state: string; id: number }

/**
 * q3, local item suggestion: the auctions in category 10 whose seller lives in Oregon, Idaho or
 * California, with the seller's name, city and state. A regular (unwindowed) join on seller =
 * person id: each side waits in keyed state for the other, whichever comes first. As in Flink
 * without a state TTL, nothing is ever cleaned up (another person or auction of the key may
 * always come); only what the result needs is kept: the auction's id, the person's name, city
 * and state.
 *
 *   SELECT P.name, P.city, P.state, A.id
 *   FROM auction AS A INNER JOIN person AS P on A.seller = P.id
 *   WHERE A.category = 10 and (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
 */
export function q3(events: DataStream<NexmarkEvent>): DataStream<LocalItem> {
  const auctions = events
    .filter(function inCategoryTen(event: NexmarkEvent) { return event.type === 'auction' && event.auction.category === 10; })
    .map(function auctionAndSeller(event: NexmarkEvent) {
      const { id, seller } = (event as { auction: Auction }).auction;
      return { id, seller };
    });
  const sellers = events
    .filter(function fromOregonIdahoOrCalifornia(event: NexmarkEvent) {
      return event.type === 'person' && (event.person.state === 'OR' || event.person.state === 'ID' || event.person.state === 'CA');
    })
    .map(function sellerRow(event: NexmarkEvent): SellerRow {
      const { id, name, city, state } = (event as { person: Person }).person;
      return { id, name, city, state };
    });
  return auctions.connect(sellers)
    .keyBy<number>('seller', 'id')
    .process(
      function auctionMeetsSellers(auction: { id: number; seller: number }, ctx: ProcessContext<number>): LocalItem[] {
        ctx.state.list<number>('auctions').add(auction.id);
        return ctx.state.list<SellerRow>('sellers').get().map(({ name, city, state }) => ({ name, city, state, id: auction.id }));
      },
      function sellerMeetsAuctions(seller: SellerRow, ctx: ProcessContext<number>): LocalItem[] {
        ctx.state.list<SellerRow>('sellers').add(seller);
        return ctx.state.list<number>('auctions').get().map((id) => ({ name: seller.name, city: seller.city, state: seller.state, id }));
      },
    );
}

/** q4's input: an auction's bidding period, or a bid; both carry the auction's id, its key. */
export type AuctionOrBid =
  | { kind: 'auction'; auction: number; category: number; dateTime: number; expires: number }
  | { kind: 'bid'; auction: number; price: number; dateTime: number };
export interface WinningBid { auction: number; category: number; final: number }
export interface CategoryAverage { category: number; final: number }

/**
 * q4, average price for a category: an auction's winning bid is its highest bid made between
 * its dateTime and its expiry, both inclusive; the result is the average winning bid per
 * category (Flink's AVG of a BIGINT: the sum over the count, truncated).
 *
 *   SELECT Q.category, AVG(Q.final)
 *   FROM (SELECT MAX(B.price) AS final, A.category
 *         FROM auction A, bid B
 *         WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
 *         GROUP BY A.id, A.category) Q
 *   GROUP BY Q.category;
 *
 * An updating result, as the SQL's is: a row { category, final } each time a category's average
 * changes, so the last row of a category is its result over the whole input. The auctions and
 * bids meet keyed by auction (one stream, since a connected keyed process has no timers); an
 * auction's winning bid is final when the watermark passes its expiry (an event-time timer),
 * and then its state goes. A bid may come before its auction (the generator makes bids on
 * auctions a few ids ahead, and at parallelism > 1 the two come from different subtasks): it
 * waits until the watermark passes its own time, after which its auction, if it is not here,
 * was made after the bid, so the bid can never count and goes too.
 */
export function q4(events: DataStream<NexmarkEvent>): DataStream<CategoryAverage> {
  return events
    .filter(function auctionOrBid(event: NexmarkEvent) { return event.type !== 'person'; })
    .map(function biddingRow(event: NexmarkEvent): AuctionOrBid {
      if (event.type === 'auction') {
        const { id, category, dateTime, expires } = event.auction;
        return { kind: 'auction', auction: id, category, dateTime, expires };
      }
      const { auction, price, dateTime } = (event as { bid: Bid }).bid;
      return { kind: 'bid', auction, price, dateTime };
    })
    .keyBy('auction')
    .process(function highestBidInTime(row: AuctionOrBid, ctx: ProcessContext<number>): void {
      const open = ctx.state.value<{ category: number; dateTime: number; expires: number }>('auction');
      const final = ctx.state.value<number>('final');
      const early = ctx.state.list<{ price: number; dateTime: number }>('early');
      if (row.kind === 'auction') {
        let max = final.value();
        for (const bid of early.get()) {
          ctx.timerService.deleteEventTimeTimer(bid.dateTime);
          if (bid.dateTime >= row.dateTime && bid.dateTime <= row.expires && (max === undefined || bid.price > max)) max = bid.price;
        }
        early.clear();
        if (max !== undefined) final.update(max);
        open.update({ category: row.category, dateTime: row.dateTime, expires: row.expires });
        ctx.timerService.registerEventTimeTimer(row.expires);
        return;
      }
      const auction = open.value();
      if (auction === undefined) {
        early.add({ price: row.price, dateTime: row.dateTime });
        ctx.timerService.registerEventTimeTimer(row.dateTime);
      } else if (row.dateTime >= auction.dateTime && row.dateTime <= auction.expires) {
        const max = final.value();
        if (max === undefined || row.price > max) final.update(row.price);
      }
    }, {
      onTimer: function auctionCloses(time: number, ctx: ProcessContext<number>): WinningBid[] {
        const auction = ctx.state.value<{ category: number; dateTime: number; expires: number }>('auction').value();
        if (auction === undefined) {
          // Every event up to `time` is here: a bid of that time or earlier whose auction is not can never count.
          const early = ctx.state.list<{ price: number; dateTime: number }>('early');
          const waiting = early.get().filter((bid) => bid.dateTime > time);
          if (waiting.length === 0) early.clear();
          else early.update(waiting);
          return [];
        }
        if (time < auction.expires) return [];
        const final = ctx.state.value<number>('final').value();
        ctx.state.value('auction').clear();
        ctx.state.value('final').clear();
        return final === undefined ? [] : [{ auction: ctx.key, category: auction.category, final }];
      },
    })
    .keyBy('category')
    .process(function averageWinningBid(winning: WinningBid, ctx: ProcessContext<number>): CategoryAverage[] {
      const total = ctx.state.value<{ sum: number; count: number }>('total');
      const sum = (total.value()?.sum ?? 0) + winning.final;
      const count = (total.value()?.count ?? 0) + 1;
      total.update({ sum, count });
      return [{ category: winning.category, final: Math.trunc(sum / count) }];
    });
}

/**
 * The generator's events in event time: each event's dateTime. A source subtask emits its
 * events in ascending order, so the watermark can follow the largest timestamp closely.
 */
export function withEventTime(events: SingleOutputStreamOperator<NexmarkEvent>): SingleOutputStreamOperator<NexmarkEvent> {
  return events.assignTimestampsAndWatermarks({
    timestamp: (e: NexmarkEvent) => (e.type === 'bid' ? e.bid : e.type === 'auction' ? e.auction : e.person).dateTime,
    outOfOrdernessMs: 0,
  });
}

/** count(*) as a window aggregate: one number per window, not its records. */
const COUNT = {
  create: function zero() { return 0; },
  add: function plusOne(count: number) { return count + 1; },
  result: function count(count: number) { return count; },
  merge: function sum(a: number, b: number) { return a + b; },
};

export interface HotItem { auction: number; num: number; windowStart: number; windowEnd: number }

/**
 * q5, hot items: in each window of 10 s sliding by 2 s, the auctions with the most bids (all
 * of them on a tie), with that count. The bids are counted per auction and window (an
 * aggregate, then a window function for the key and the window's bounds), then the
 * counts of one window meet in a second window stage keyed by the window (each first-stage
 * result carries its window's last millisecond, so one 2 s window holds exactly its window's).
 *
 *   SELECT AuctionBids.auction, AuctionBids.num
 *   FROM (SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
 *         FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
 *         GROUP BY auction, window_start, window_end) AS AuctionBids
 *   JOIN (SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
 *         FROM (SELECT count(*) AS num, window_start AS starttime, window_end AS endtime
 *               FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
 *               GROUP BY auction, window_start, window_end) AS CountBids
 *         GROUP BY CountBids.starttime, CountBids.endtime) AS MaxBids
 *   ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime
 *      AND AuctionBids.num >= MaxBids.maxn;
 */
export function q5(events: DataStream<NexmarkEvent>): DataStream<HotItem> {
  return bids(events)
    .keyBy('auction')
    .window(SlidingEventTimeWindows.of(10_000, 2_000))
    .aggregate(COUNT, function countBids([num]: number[], ctx: { key: number; window: { start: number; end: number } }) {
      return [{ auction: ctx.key, num: num!, windowStart: ctx.window.start, windowEnd: ctx.window.end }];
    })
    .keyBy('windowStart')
    .window(TumblingEventTimeWindows.of(2_000))
    .process(function hottest(counts: HotItem[]) {
      let max = 0;
      for (const count of counts) if (count.num > max) max = count.num;
      return counts.filter((count) => count.num >= max);
    });
}

/**
 * q7, highest bid: the bids whose price is the highest of their tumbling 10 s window. All of a
 * window's bids meet in one subtask, as in the SQL (a global aggregate per window). Unlike the
 * SQL's BETWEEN, a bid made at exactly a window's end belongs to the next window only.
 *
 *   SELECT B.auction, B.price, B.bidder, B.dateTime, B.extra
 *   FROM bid B
 *   JOIN (SELECT MAX(price) AS maxprice, window_end as dateTime
 *         FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
 *         GROUP BY window_start, window_end) B1
 *   ON B.price = B1.maxprice
 *   WHERE B.dateTime BETWEEN B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime;
 */
export function q7(events: DataStream<NexmarkEvent>): DataStream<BidRow> {
  return bids(events)
    .windowAll(TumblingEventTimeWindows.of(10_000))
    .process(function highestBids(inWindow: BidRow[]) {
      let max = Number.NEGATIVE_INFINITY;
      for (const bid of inWindow) if (bid.price > max) max = bid.price;
      return inWindow.filter((bid) => bid.price === max);
    });
}

export interface UserSession { bidder: number; bidCount: number; starttime: number; endtime: number }

/**
 * q11, user sessions: each bidder's bids per session, a session closing 10 s after its last
 * bid (session windows merge those that touch, as Flink's do).
 *
 *   SELECT B.bidder, count(*) as bid_count,
 *          SESSION_START(B.dateTime, INTERVAL '10' SECOND) as starttime,
 *          SESSION_END(B.dateTime, INTERVAL '10' SECOND) as endtime
 *   FROM bid B
 *   GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10' SECOND);
 */
export function q11(events: DataStream<NexmarkEvent>): DataStream<UserSession> {
  return bids(events)
    .keyBy('bidder')
    .window(EventTimeSessionWindows.withGap(10_000))
    .aggregate(COUNT, function session([bidCount]: number[], ctx: { key: number; window: { start: number; end: number } }) {
      return [{ bidder: ctx.key, bidCount: bidCount!, starttime: ctx.window.start, endtime: ctx.window.end }];
    });
}

export interface NewUser { id: number; name: string; starttime: number }

/**
 * q8, monitor new users: the people who joined and opened an auction within the same tumbling
 * 10 s window. A window coGroup of persons and auctions on person id = seller: once per id and
 * window, with the window's persons and auctions; it emits each person of a window that has an
 * auction of theirs (the SQL groups each side first, so one row per person and window).
 *
 *   SELECT P.id, P.name, P.starttime
 *   FROM (SELECT id, name, window_start AS starttime, window_end AS endtime
 *         FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
 *         GROUP BY id, name, window_start, window_end) P
 *   JOIN (SELECT seller, window_start AS starttime, window_end AS endtime
 *         FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
 *         GROUP BY seller, window_start, window_end) A
 *   ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
 */
export function q8(events: DataStream<NexmarkEvent>): DataStream<NewUser> {
  const persons = events
    .filter(function isPerson(event: NexmarkEvent) { return event.type === 'person'; })
    .map(function idAndName(event: NexmarkEvent) {
      const { id, name } = (event as { person: Person }).person;
      return { id, name };
    });
  const sellers = events
    .filter(function isAuction(event: NexmarkEvent) { return event.type === 'auction'; })
    .map(function seller(event: NexmarkEvent) { return { seller: (event as { auction: Auction }).auction.seller }; });
  return persons.coGroup(sellers)
    .where('id')
    .equalTo('seller')
    .window(TumblingEventTimeWindows.of(10_000))
    .apply(function joinedAndSold(people: { id: number; name: string }[], auctions: unknown[], ctx: { window: { start: number } }): NewUser[] {
      if (auctions.length === 0) return [];
      const names = new Set(people.map((person) => person.name));
      return [...names].map((name) => ({ id: people[0]!.id, name, starttime: ctx.window.start }));
    });
}

export const QUERIES = { q0, q1, q2, q3, q4, q5, q7, q8, q11 } as const;

/** The queries that need the events in event time (see withEventTime): q4 for its timers, the others for their windows. */
export const WINDOWED: readonly QueryName[] = ['q4', 'q5', 'q7', 'q8', 'q11'];
export type QueryName = keyof typeof QUERIES;
