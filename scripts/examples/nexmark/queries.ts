/**
 * Nexmark queries written with the DataStream API, as the benchmark defines them
 * (github.com/nexmark/nexmark, nexmark-flink/src/main/resources/queries/qN.sql). Each takes
 * the stream of generator events and returns the query's result stream; the SQL is in the
 * comment. The queries that need event time and windows (q3–q11) come with the full
 * DataStream API.
 */
import type { DataStream, SingleOutputStreamOperator } from '../../../lib/api/index.ts';
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

export const QUERIES = { q0, q1, q2 } as const;
export type QueryName = keyof typeof QUERIES;
