/**
 * Nexmark queries written with the DataStream API, as the benchmark defines them
 * (github.com/nexmark/nexmark, nexmark-flink/src/main/resources/queries/qN.sql). Each takes
 * the stream of generator events and returns the query's result stream; the SQL is in the
 * comment. The windowed ones (q5, q7, q11) need the events in event time: `withEventTime`.
 * q3, q4 and q8 need joins, not built yet.
 */
import {
  EventTimeSessionWindows, SlidingEventTimeWindows, TumblingEventTimeWindows, type DataStream, type SingleOutputStreamOperator,
} from '../../../lib/api/index.ts';
import type { Bid, NexmarkEvent } from '../../../lib/nexmark/index.ts';

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

export interface HotItem { auction: number; num: number; windowStart: number; windowEnd: number }

/**
 * q5, hot items: in each window of 10 s sliding by 2 s, the auctions with the most bids (all
 * of them on a tie), with that count. The bids are counted per auction and window, then the
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
    .process(function countBids(inWindow: BidRow[], ctx: { key: number; window: { start: number; end: number } }) {
      return [{ auction: ctx.key, num: inWindow.length, windowStart: ctx.window.start, windowEnd: ctx.window.end }];
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
    .keyBy(function everyBid() { return 0; })
    .window(TumblingEventTimeWindows.of(10_000))
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
    .process(function session(inSession: BidRow[], ctx: { key: number; window: { start: number; end: number } }) {
      return [{ bidder: ctx.key, bidCount: inSession.length, starttime: ctx.window.start, endtime: ctx.window.end }];
    });
}

export const QUERIES = { q0, q1, q2, q5, q7, q11 } as const;

/** The queries that need the events in event time (see withEventTime). */
export const WINDOWED: readonly QueryName[] = ['q5', 'q7', 'q11'];
export type QueryName = keyof typeof QUERIES;
