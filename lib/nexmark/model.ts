/**
 * Nexmark's three event types, with the reference's field names (nexmark-flink's model and its
 * ddl_gen.sql). Ids and prices are Java longs that stay far below 2^53, so they are numbers;
 * times are epoch milliseconds.
 */

/** Someone who joins the auction site. */
export interface Person {
  id: number;
  name: string;
  emailAddress: string;
  creditCard: string;
  city: string;
  state: string;
  dateTime: number;
  extra: string;
}

/** An item put up for auction; bids count from dateTime until expires. */
export interface Auction {
  id: number;
  itemName: string;
  description: string;
  initialBid: number;
  reserve: number;
  dateTime: number;
  expires: number;
  /** A Person id. */
  seller: number;
  category: number;
  extra: string;
}

/** A bid on an auction; price is in cents. */
export interface Bid {
  /** An Auction id. */
  auction: number;
  /** A Person id. */
  bidder: number;
  price: number;
  channel: string;
  url: string;
  dateTime: number;
  extra: string;
}

export type NexmarkEvent =
  | { type: 'person'; person: Person }
  | { type: 'auction'; auction: Auction }
  | { type: 'bid'; bid: Bid };

/** The event's event time (its dateTime), epoch ms. */
export function eventTime(event: NexmarkEvent): number {
  switch (event.type) {
    case 'person': return event.person.dateTime;
    case 'auction': return event.auction.dateTime;
    case 'bid': return event.bid.dateTime;
    default: return unknownEvent(event);
  }
}

function unknownEvent(event: never): never {
  throw new TypeError(`not a Nexmark event: ${JSON.stringify(event)}`);
}
