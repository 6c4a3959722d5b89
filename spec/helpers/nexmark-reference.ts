/**
 * Expected results of Nexmark queries, computed by plain loops over a finite array of events
 * (no engine code), one function per query of github.com/nexmark/nexmark
 * (nexmark-flink/src/main/resources/queries/qN.sql). Each answers the final result over the
 * whole input, as if no event were late: a streaming run that retracts or updates (q3, q4)
 * must end with these rows.
 *
 * Windows are aligned to the epoch and half open, [start, start + size); an event belongs to a
 * window by its dateTime. Results come in the order each function states; compare as multisets
 * where the engine's order differs.
 */
import type { Auction, Bid, NexmarkEvent, Person } from '../../lib/nexmark/index.ts';

export const SECOND_MS = 1000;
/** The 10-second windows of q5, q7, q8 and q11. */
export const WINDOW_10S_MS = 10 * SECOND_MS;
export const HOP_SLIDE_2S_MS = 2 * SECOND_MS;

export function bidsOf(events: readonly NexmarkEvent[]): Bid[] {
  const bids: Bid[] = [];
  for (const event of events) if (event.type === 'bid') bids.push(event.bid);
  return bids;
}

export function auctionsOf(events: readonly NexmarkEvent[]): Auction[] {
  const auctions: Auction[] = [];
  for (const event of events) if (event.type === 'auction') auctions.push(event.auction);
  return auctions;
}

export function personsOf(events: readonly NexmarkEvent[]): Person[] {
  const persons: Person[] = [];
  for (const event of events) if (event.type === 'person') persons.push(event.person);
  return persons;
}

/** Start of the tumbling window of `sizeMs` that holds `time`. */
export function tumbleStart(time: number, sizeMs: number): number {
  return time - positiveModulo(time, sizeMs);
}

/** Starts of every hopping window (size `sizeMs`, one every `slideMs`) that holds `time`, ascending. */
export function hopStarts(time: number, sizeMs: number, slideMs: number): number[] {
  const starts: number[] = [];
  const last = time - positiveModulo(time, slideMs);
  for (let start = last; start > time - sizeMs; start -= slideMs) starts.unshift(start);
  return starts;
}

function positiveModulo(value: number, modulus: number): number {
  return ((value % modulus) + modulus) % modulus;
}

// ---- q0 --------------------------------------------------------------------------------------

export interface Q0Row { auction: number; bidder: number; price: number; dateTime: number; extra: string }

/**
 * Query 0, pass through: every bid, unchanged, in input order. Measures the cost of the source
 * and the plumbing.
 *
 *   SELECT auction, bidder, price, `dateTime`, extra FROM bid;
 */
export function q0(events: readonly NexmarkEvent[]): Q0Row[] {
  return bidsOf(events).map(({ auction, bidder, price, dateTime, extra }) => ({ auction, bidder, price, dateTime, extra }));
}

// ---- q1 --------------------------------------------------------------------------------------

export type Q1Row = Q0Row;

/**
 * Query 1, currency conversion: each bid with its price in euros, in input order.
 *
 *   SELECT auction, bidder, 0.908 * price as price, `dateTime`, extra FROM bid;
 *
 * Flink types 0.908 * BIGINT as DECIMAL(23, 3): exact, no rounding. The exact value has three
 * decimals; here it is the double nearest to it, price * 908 / 1000 (the integer product is
 * exact, and one division rounds once). `price * 0.908` can differ in the last bit.
 */
export function q1(events: readonly NexmarkEvent[]): Q1Row[] {
  return bidsOf(events).map(({ auction, bidder, price, dateTime, extra }) => ({ auction, bidder, price: (price * 908) / 1000, dateTime, extra }));
}

// ---- q2 --------------------------------------------------------------------------------------

export interface Q2Row { auction: number; price: number }

/**
 * Query 2, selection: bids on every 123rd auction, in input order.
 *
 *   SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
 */
export function q2(events: readonly NexmarkEvent[]): Q2Row[] {
  const rows: Q2Row[] = [];
  for (const bid of bidsOf(events)) if (bid.auction % 123 === 0) rows.push({ auction: bid.auction, price: bid.price });
  return rows;
}

// ---- q3 --------------------------------------------------------------------------------------

export interface Q3Row { name: string; city: string; state: string; id: number }

const Q3_STATES = new Set(['OR', 'ID', 'CA']);

/**
 * Query 3, local item suggestion: who sells in category 10 from OR, ID or CA, and which
 * auctions. A regular (unwindowed) join over the whole input, whichever side comes first.
 * In auction input order.
 *
 *   SELECT P.name, P.city, P.state, A.id
 *   FROM auction AS A INNER JOIN person AS P on A.seller = P.id
 *   WHERE A.category = 10 and (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
 */
export function q3(events: readonly NexmarkEvent[]): Q3Row[] {
  const personsById = new Map<number, Person[]>();
  for (const person of personsOf(events)) {
    const same = personsById.get(person.id);
    if (same) same.push(person);
    else personsById.set(person.id, [person]);
  }
  const rows: Q3Row[] = [];
  for (const auction of auctionsOf(events)) {
    if (auction.category !== 10) continue;
    for (const person of personsById.get(auction.seller) ?? []) {
      if (Q3_STATES.has(person.state)) rows.push({ name: person.name, city: person.city, state: person.state, id: auction.id });
    }
  }
  return rows;
}

// ---- q4 --------------------------------------------------------------------------------------

export interface Q4Row { category: number; final: number }

/**
 * Query 4, average price for a category: an auction's winning bid is its highest bid made
 * between its dateTime and its expiry (both inclusive); the result is the average winning
 * bid per category, over auctions with at least one such bid. Sorted by category.
 *
 *   SELECT Q.category, AVG(Q.final)
 *   FROM (
 *     SELECT MAX(B.price) AS final, A.category
 *     FROM auction A, bid B
 *     WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires
 *     GROUP BY A.id, A.category
 *   ) Q
 *   GROUP BY Q.category;
 *
 * Flink's AVG of a BIGINT is a BIGINT: the sum divided by the count, truncated.
 */
export function q4(events: readonly NexmarkEvent[]): Q4Row[] {
  const bidsByAuction = new Map<number, Bid[]>();
  for (const bid of bidsOf(events)) {
    const same = bidsByAuction.get(bid.auction);
    if (same) same.push(bid);
    else bidsByAuction.set(bid.auction, [bid]);
  }
  const winningByAuction = new Map<string, { category: number; final: number }>();
  for (const auction of auctionsOf(events)) {
    for (const bid of bidsByAuction.get(auction.id) ?? []) {
      if (bid.dateTime < auction.dateTime || bid.dateTime > auction.expires) continue;
      const key = `${auction.id}/${auction.category}`;
      const current = winningByAuction.get(key);
      if (current === undefined) winningByAuction.set(key, { category: auction.category, final: bid.price });
      else current.final = Math.max(current.final, bid.price);
    }
  }
  const byCategory = new Map<number, { sum: number; count: number }>();
  for (const { category, final } of winningByAuction.values()) {
    const total = byCategory.get(category) ?? { sum: 0, count: 0 };
    total.sum += final;
    total.count += 1;
    byCategory.set(category, total);
  }
  return [...byCategory.entries()]
    .sort(([a], [b]) => a - b)
    .map(([category, { sum, count }]) => ({ category, final: Math.trunc(sum / count) }));
}

// ---- q5 --------------------------------------------------------------------------------------

export interface Q5Row { auction: number; num: number; windowStart: number; windowEnd: number }

/**
 * Query 5, hot items: in each hopping window of 10 s every 2 s, the auctions with the most
 * bids (all of them on a tie), with that count. The SQL's sink keeps only (auction, num);
 * the window is kept here to tell windows apart. Sorted by window start, then auction.
 *
 *   SELECT AuctionBids.auction, AuctionBids.num
 *   FROM (
 *     SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
 *     FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
 *     GROUP BY auction, window_start, window_end
 *   ) AS AuctionBids
 *   JOIN (
 *     SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
 *     FROM (
 *       SELECT count(*) AS num, window_start AS starttime, window_end AS endtime
 *       FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
 *       GROUP BY auction, window_start, window_end
 *     ) AS CountBids
 *     GROUP BY CountBids.starttime, CountBids.endtime
 *   ) AS MaxBids
 *   ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime
 *      AND AuctionBids.num >= MaxBids.maxn;
 */
export function q5(events: readonly NexmarkEvent[]): Q5Row[] {
  const countsByWindow = new Map<number, Map<number, number>>();
  for (const bid of bidsOf(events)) {
    for (const start of hopStarts(bid.dateTime, WINDOW_10S_MS, HOP_SLIDE_2S_MS)) {
      const counts = countsByWindow.get(start) ?? new Map<number, number>();
      counts.set(bid.auction, (counts.get(bid.auction) ?? 0) + 1);
      countsByWindow.set(start, counts);
    }
  }
  const rows: Q5Row[] = [];
  for (const start of [...countsByWindow.keys()].sort((a, b) => a - b)) {
    const counts = countsByWindow.get(start)!;
    const max = Math.max(...counts.values());
    const hottest = [...counts.entries()].filter(([, num]) => num >= max).map(([auction]) => auction).sort((a, b) => a - b);
    for (const auction of hottest) rows.push({ auction, num: max, windowStart: start, windowEnd: start + WINDOW_10S_MS });
  }
  return rows;
}

// ---- q7 --------------------------------------------------------------------------------------

export type Q7Row = Q0Row;

/**
 * Query 7, highest bid: the bids whose price is the highest of a tumbling 10 s window.
 * In window order, then input order (the window's own bids before those made at its end).
 *
 *   SELECT B.auction, B.price, B.bidder, B.`dateTime`, B.extra
 *   from bid B
 *   JOIN (
 *     SELECT MAX(price) AS maxprice, window_end as `dateTime`
 *     FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))
 *     GROUP BY window_start, window_end
 *   ) B1
 *   ON B.price = B1.maxprice
 *   WHERE B.`dateTime` BETWEEN B1.`dateTime` - INTERVAL '10' SECOND AND B1.`dateTime`;
 *
 * Two quirks kept as the SQL has them: BETWEEN includes the window's end, so a bid made at
 * exactly window_end (which belongs to the next window) also matches the previous window's
 * maximum if its price equals it (and is then output once per window it matches); and the
 * sink's columns are (auction, bidder, price, ...) while the SELECT lists price before bidder,
 * so nexmark-flink's sink swaps them. The rows here name the fields by what they hold.
 */
export function q7(events: readonly NexmarkEvent[]): Q7Row[] {
  const bidsByWindow = new Map<number, Bid[]>();
  for (const bid of bidsOf(events)) {
    const start = tumbleStart(bid.dateTime, WINDOW_10S_MS);
    const inWindow = bidsByWindow.get(start) ?? [];
    inWindow.push(bid);
    bidsByWindow.set(start, inWindow);
  }
  const rows: Q7Row[] = [];
  for (const start of [...bidsByWindow.keys()].sort((a, b) => a - b)) {
    const inWindow = bidsByWindow.get(start)!;
    const end = start + WINDOW_10S_MS;
    let maxPrice = -Infinity;
    for (const bid of inWindow) maxPrice = Math.max(maxPrice, bid.price);
    const atEnd = (bidsByWindow.get(end) ?? []).filter((bid) => bid.dateTime === end);
    for (const { auction, bidder, price, dateTime, extra } of [...inWindow, ...atEnd]) {
      if (price === maxPrice) rows.push({ auction, bidder, price, dateTime, extra });
    }
  }
  return rows;
}

// ---- q8 --------------------------------------------------------------------------------------

export interface Q8Row { id: number; name: string; starttime: number }

/**
 * Query 8, monitor new users: people who joined and opened an auction in the same tumbling
 * 10 s window (starttime is the window's start). In window order, then person input order.
 *
 *   SELECT P.id, P.name, P.starttime
 *   FROM (
 *     SELECT id, name, window_start AS starttime, window_end AS endtime
 *     FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))
 *     GROUP BY id, name, window_start, window_end
 *   ) P
 *   JOIN (
 *     SELECT seller, window_start AS starttime, window_end AS endtime
 *     FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))
 *     GROUP BY seller, window_start, window_end
 *   ) A
 *   ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
 */
export function q8(events: readonly NexmarkEvent[]): Q8Row[] {
  const sellersInWindow = new Set<string>();
  for (const auction of auctionsOf(events)) sellersInWindow.add(`${auction.seller}@${tumbleStart(auction.dateTime, WINDOW_10S_MS)}`);
  const seen = new Set<string>();
  const rows: Q8Row[] = [];
  for (const person of personsOf(events)) {
    const starttime = tumbleStart(person.dateTime, WINDOW_10S_MS);
    const group = JSON.stringify([person.id, person.name, starttime]);
    if (seen.has(group) || !sellersInWindow.has(`${person.id}@${starttime}`)) continue;
    seen.add(group);
    rows.push({ id: person.id, name: person.name, starttime });
  }
  return rows.sort((a, b) => a.starttime - b.starttime);
}

// ---- q11 -------------------------------------------------------------------------------------

export interface Q11Row { bidder: number; bidCount: number; starttime: number; endtime: number }

/**
 * Query 11, user sessions: bids per bidder per session, a session ending 10 s after the
 * bidder's last bid in it. Sorted by bidder, then session start.
 *
 *   SELECT B.bidder, count(*) as bid_count,
 *          SESSION_START(B.`dateTime`, INTERVAL '10' SECOND) as starttime,
 *          SESSION_END(B.`dateTime`, INTERVAL '10' SECOND) as endtime
 *   FROM bid B
 *   GROUP BY B.bidder, SESSION(B.`dateTime`, INTERVAL '10' SECOND);
 *
 * Each bid opens a window [dateTime, dateTime + 10 s); Flink merges windows that overlap or
 * touch (TimeWindow.intersects compares inclusively), so a bid exactly 10 s after the previous
 * one stays in its session. A session is [first bid, last bid + 10 s).
 */
export function q11(events: readonly NexmarkEvent[]): Q11Row[] {
  const timesByBidder = new Map<number, number[]>();
  for (const bid of bidsOf(events)) {
    const times = timesByBidder.get(bid.bidder) ?? [];
    times.push(bid.dateTime);
    timesByBidder.set(bid.bidder, times);
  }
  const rows: Q11Row[] = [];
  for (const bidder of [...timesByBidder.keys()].sort((a, b) => a - b)) {
    const times = timesByBidder.get(bidder)!.sort((a, b) => a - b);
    let session: Q11Row | undefined;
    for (const time of times) {
      if (session !== undefined && time <= session.endtime) {
        session.bidCount += 1;
        session.endtime = time + WINDOW_10S_MS;
      } else {
        session = { bidder, bidCount: 1, starttime: time, endtime: time + WINDOW_10S_MS };
        rows.push(session);
      }
    }
  }
  return rows;
}
