/**
 * The Nexmark event generator as a pure function of (event number, config), so any source
 * instance can generate any subset of the event numbers and all of them agree.
 *
 * It follows the reference generator of github.com/nexmark/nexmark (nexmark-flink's
 * NexmarkGenerator, GeneratorConfig and model/*Generator) draw for draw, with its randomness
 * seeded per event as Beam's Nexmark does and nexmark-flink did at first: java.util.Random
 * seeded with the event id. Where we differ from nexmark-flink today:
 * - nexmark-flink draws from one unseeded SplittableRandom, so its events cannot be reproduced
 *   at all; the per-event seed is what makes generation pure (Beam's scheme).
 * - nexmark-flink adds FIRST_PERSON_ID to a bid's bidder twice (ids from 2000, mostly of people
 *   who never exist); we add it once, as Beam does, so bidders join with people.
 * - the tables drawn once per JVM from unseeded randomness (the channel URLs, and the 1 MiB
 *   text that `extra` strings are cut from) are drawn here from fixed seeds.
 * - event number n has event id n (Beam's standard config: first event id and first event
 *   number 0); nexmark-flink's SQL source starts both at 1.
 */
import { isResolvedNexmarkConfig, resolveNexmarkConfig, type NexmarkConfig, type ResolvedNexmarkConfig } from './config.ts';
import type { Auction, Bid, NexmarkEvent, Person } from './model.ts';
import { JavaRandom } from './random.ts';

/** Ids start here so that the queries' constants find matches even in small runs. */
export const FIRST_PERSON_ID = 1000;
export const FIRST_AUCTION_ID = 1000;
export const FIRST_CATEGORY_ID = 10;
export const NUM_CATEGORIES = 5;

/** Cold sellers, bidders and bids may pick ids up to this many beyond the last one generated. */
export const PERSON_ID_LEAD = 10;
export const AUCTION_ID_LEAD = 10;
// The hot auction, seller and bidder are the first (bidder: second) of each batch of this many ids.
const HOT_ID_BATCH = 100;

const US_STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'];
const US_CITIES = ['Phoenix', 'Los Angeles', 'San Francisco', 'Boise', 'Portland', 'Bend', 'Redmond', 'Seattle', 'Kent', 'Cheyenne'];
const FIRST_NAMES = ['Peter', 'Paul', 'Luke', 'John', 'Saul', 'Vicky', 'Kate', 'Julie', 'Sarah', 'Deiter', 'Walter'];
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris'];
const HOT_CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple'];
const HOT_CHANNELS_RATIO = 2;
const CHANNELS_NUMBER = 10_000;
const MIN_STRING_LENGTH = 3;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const REUSABLE_EXTRA_LENGTH = 1024 * 1024;
// nexmark-flink draws these tables from unseeded randomness; fixed seeds make them the same everywhere.
const CHANNEL_TABLE_SEED = 0x4e45584d;
const EXTRA_TEXT_SEED = 0x45585452;
// The reference shuffles event times within a group by this multiplier.
const OUT_OF_ORDER_MULTIPLIER = 953;
const JAVA_INT_MAX = 0x7fffffff;

// One generator, reseeded for every event: nothing survives between calls, so each call is pure.
const random = new JavaRandom(0);

/** The event at `eventNumber` (a safe integer >= 0): the same number and config always give a deep-equal event. */
export function nexmarkEvent(eventNumber: number, config: NexmarkConfig): NexmarkEvent {
  const c = isResolvedNexmarkConfig(config) ? config : resolveNexmarkConfig(config);
  const eventId = eventIdOf(eventNumber, c);
  const timestamp = timestampOfEventId(eventId, c);
  random.setSeed(eventId);
  const offset = eventId % c.totalProportion;
  if (offset < c.personProportion) return { type: 'person', person: nextPerson(eventId, timestamp, c) };
  if (offset < c.personProportion + c.auctionProportion) return { type: 'auction', auction: nextAuction(eventId, timestamp, c) };
  return { type: 'bid', bid: nextBid(eventId, timestamp, c) };
}

/** `(eventNumber) => event` with the config resolved once, for a generator source's fn(index). */
export function nexmarkEventGenerator(config: NexmarkConfig = {}): (eventNumber: number) => NexmarkEvent {
  const resolved = resolveNexmarkConfig(config);
  return (eventNumber) => nexmarkEvent(eventNumber, resolved);
}

/** The event time of the event at `eventNumber`, without generating it. */
export function nexmarkEventTime(eventNumber: number, config: NexmarkConfig): number {
  const c = isResolvedNexmarkConfig(config) ? config : resolveNexmarkConfig(config);
  return timestampOfEventId(eventIdOf(eventNumber, c), c);
}

/**
 * A lower bound on the event time of every event from `eventNumber` on (the reference's
 * watermark): the time of the first event number of its out-of-order group.
 */
export function nexmarkWatermark(eventNumber: number, config: NexmarkConfig): number {
  const c = isResolvedNexmarkConfig(config) ? config : resolveNexmarkConfig(config);
  checkEventNumber(eventNumber);
  return timestampOfEventId(eventNumber - (eventNumber % c.outOfOrderGroupSize), c);
}

/** Which type of event is at `eventNumber`, without generating it. */
export function nexmarkEventType(eventNumber: number, config: NexmarkConfig): NexmarkEvent['type'] {
  const c = isResolvedNexmarkConfig(config) ? config : resolveNexmarkConfig(config);
  const offset = eventIdOf(eventNumber, c) % c.totalProportion;
  if (offset < c.personProportion) return 'person';
  return offset < c.personProportion + c.auctionProportion ? 'auction' : 'bid';
}

function checkEventNumber(eventNumber: number): void {
  if (!(Number.isSafeInteger(eventNumber) && eventNumber >= 0)) {
    throw new RangeError(`a Nexmark event number must be a safe integer >= 0, got ${eventNumber}`);
  }
}

/** The reference's nextAdjustedEventNumber: event numbers permuted within out-of-order groups. */
function eventIdOf(eventNumber: number, c: ResolvedNexmarkConfig): number {
  checkEventNumber(eventNumber);
  const groupSize = c.outOfOrderGroupSize;
  if (groupSize === 1) return eventNumber;
  const inGroup = eventNumber % groupSize;
  return eventNumber - inGroup + ((inGroup * OUT_OF_ORDER_MULTIPLIER) % groupSize);
}

/** The reference's timestampForEvent: baseTime + (long)(n · delayUs) / 1000, both steps truncating. */
function timestampOfEventId(eventId: number, c: ResolvedNexmarkConfig): number {
  const micros = Math.floor(eventId * c.interEventDelayUs);
  return c.baseTime + (micros - (micros % 1000)) / 1000;
}

// ---- ids -------------------------------------------------------------------------------------

/** The last person id (from 0) generated at or before this event id; this event's own if it is a person. */
function lastBase0PersonId(eventId: number, c: ResolvedNexmarkConfig): number {
  const epoch = Math.floor(eventId / c.totalProportion);
  let offset = eventId % c.totalProportion;
  if (offset >= c.personProportion) offset = c.personProportion - 1;
  return epoch * c.personProportion + offset;
}

/** The last auction id (from 0) generated at or before this event id; this event's own if it is an auction. */
function lastBase0AuctionId(eventId: number, c: ResolvedNexmarkConfig): number {
  let epoch = Math.floor(eventId / c.totalProportion);
  let offset = eventId % c.totalProportion;
  if (offset < c.personProportion) {
    epoch--;
    offset = c.auctionProportion - 1;
  } else if (offset >= c.personProportion + c.auctionProportion) {
    offset = c.auctionProportion - 1;
  } else {
    offset -= c.personProportion;
  }
  return epoch * c.auctionProportion + offset;
}

/** One of the active (most recent) people, or one of the next few to join. */
function nextBase0PersonId(eventId: number, c: ResolvedNexmarkConfig): number {
  const numPeople = lastBase0PersonId(eventId, c) + 1;
  const activePeople = Math.min(numPeople, c.numActivePeople);
  return numPeople - activePeople + nextLongBelow(activePeople + PERSON_ID_LEAD);
}

/** One of the auctions likely still in flight, or one of the next few to open. */
function nextBase0AuctionId(eventId: number, c: ResolvedNexmarkConfig): number {
  const maxAuction = lastBase0AuctionId(eventId, c);
  const minAuction = Math.max(maxAuction - c.numInFlightAuctions, 0);
  return minAuction + nextLongBelow(maxAuction - minAuction + 1 + AUCTION_ID_LEAD);
}

/** The reference's LongGenerator.nextLong: a long in [0, n), skewed (as in Java) when n does not fit an int. */
function nextLongBelow(n: number): number {
  if (n < JAVA_INT_MAX) return random.nextInt(n);
  const remainder = random.nextLong() % BigInt(n);
  return Number(remainder < 0n ? -remainder : remainder);
}

// ---- people ----------------------------------------------------------------------------------

function nextPerson(eventId: number, timestamp: number, c: ResolvedNexmarkConfig): Person {
  const id = lastBase0PersonId(eventId, c) + FIRST_PERSON_ID;
  const name = `${FIRST_NAMES[random.nextInt(FIRST_NAMES.length)]} ${LAST_NAMES[random.nextInt(LAST_NAMES.length)]}`;
  const emailAddress = `${nextString(7, ' ')}@${nextString(5, ' ')}.com`;
  const creditCard = `${nextCardDigits()} ${nextCardDigits()} ${nextCardDigits()} ${nextCardDigits()}`;
  const city = US_CITIES[random.nextInt(US_CITIES.length)];
  const state = US_STATES[random.nextInt(US_STATES.length)];
  const currentSize = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length;
  const extra = nextExtra(currentSize, c.avgPersonByteSize);
  return { id, name, emailAddress, creditCard, city, state, dateTime: timestamp, extra };
}

function nextCardDigits(): string {
  return String(random.nextInt(10_000)).padStart(4, '0');
}

// ---- auctions --------------------------------------------------------------------------------

function nextAuction(eventId: number, timestamp: number, c: ResolvedNexmarkConfig): Auction {
  const id = lastBase0AuctionId(eventId, c) + FIRST_AUCTION_ID;
  const seller = FIRST_PERSON_ID + (random.nextInt(c.hotSellersRatio) > 0
    ? Math.floor(lastBase0PersonId(eventId, c) / HOT_ID_BATCH) * HOT_ID_BATCH
    : nextBase0PersonId(eventId, c));
  const category = FIRST_CATEGORY_ID + random.nextInt(NUM_CATEGORIES);
  const initialBid = nextPrice();
  const expires = timestamp + nextAuctionLengthMs(eventId, timestamp, c);
  const itemName = nextString(20, ' ');
  const description = nextString(100, ' ');
  const reserve = initialBid + nextPrice();
  const currentSize = 8 + itemName.length + description.length + 8 + 8 + 8 + 8 + 8;
  const extra = nextExtra(currentSize, c.avgAuctionByteSize);
  return { id, itemName, description, initialBid, reserve, dateTime: timestamp, expires, seller, category, extra };
}

/** On average twice the time until numInFlightAuctions more auctions have opened, so about that many are open at once. */
function nextAuctionLengthMs(eventId: number, timestamp: number, c: ResolvedNexmarkConfig): number {
  const numEventsForAuctions = Math.floor((c.numInFlightAuctions * c.totalProportion) / c.auctionProportion);
  const horizonMs = timestampOfEventId(eventId + numEventsForAuctions, c) - timestamp;
  return 1 + nextLongBelow(Math.max(horizonMs * 2, 1));
}

// ---- bids ------------------------------------------------------------------------------------

function nextBid(eventId: number, timestamp: number, c: ResolvedNexmarkConfig): Bid {
  const auction = FIRST_AUCTION_ID + (random.nextInt(c.hotAuctionRatio) > 0
    ? Math.floor(lastBase0AuctionId(eventId, c) / HOT_ID_BATCH) * HOT_ID_BATCH
    : nextBase0AuctionId(eventId, c));
  // The hot bidder is the second of its batch, so hot bidders and hot sellers differ.
  const bidder = FIRST_PERSON_ID + (random.nextInt(c.hotBiddersRatio) > 0
    ? Math.floor(lastBase0PersonId(eventId, c) / HOT_ID_BATCH) * HOT_ID_BATCH + 1
    : nextBase0PersonId(eventId, c));
  const price = nextPrice();
  const channels = channelTable();
  let channel: string;
  let url: string;
  if (random.nextInt(HOT_CHANNELS_RATIO) > 0) {
    const hot = random.nextInt(HOT_CHANNELS.length);
    channel = HOT_CHANNELS[hot];
    url = channels.hotUrls[hot];
  } else {
    const number = random.nextInt(CHANNELS_NUMBER);
    channel = channels.names[number];
    url = channels.urls[number];
  }
  const extra = nextExtra(8 + 8 + 8 + 8, c.avgBidByteSize);
  return { auction, bidder, price, channel, url, dateTime: timestamp, extra };
}

interface ChannelTable {
  hotUrls: string[];
  names: string[];
  urls: string[];
}

let channels: ChannelTable | undefined;

/** The reference's HOT_URLS and CHANNEL_URL_CACHE, drawn in its order from one (here seeded) random. */
function channelTable(): ChannelTable {
  if (channels !== undefined) return channels;
  const tableRandom = new JavaRandom(CHANNEL_TABLE_SEED);
  const hotUrls = HOT_CHANNELS.map(() => baseUrl(tableRandom));
  const names: string[] = [];
  const urls: string[] = [];
  for (let i = 0; i < CHANNELS_NUMBER; i++) {
    let url = baseUrl(tableRandom);
    if (tableRandom.nextInt(10) > 0) url += `&channel_id=${javaAbs(reverseBits(i))}`;
    names.push(`channel-${i}`);
    urls.push(url);
  }
  channels = { hotUrls, names, urls };
  return channels;
}

function baseUrl(from: JavaRandom): string {
  return `https://www.nexmark.com/${nextString(5, '_', from)}/${nextString(5, '_', from)}/${nextString(5, '_', from)}/item.htm?query=1`;
}

/** Java's Integer.reverse. */
function reverseBits(value: number): number {
  let x = value | 0;
  x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1);
  x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2);
  x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
  x = ((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8);
  return ((x >>> 16) | (x << 16)) | 0;
}

/** Java's Math.abs(int): the int minimum has no positive counterpart and stays negative. */
function javaAbs(value: number): number {
  return value === -0x80000000 ? value : Math.abs(value);
}

// ---- prices and strings ----------------------------------------------------------------------

/**
 * Log-uniform between $1 and $1,000,000, in cents (10^[0, 6) dollars). V8's Math.pow and HotSpot's agreed on every
 * price in the millions of events compared; a last-bit difference could only flip an exact half cent.
 */
function nextPrice(): number {
  return Math.round(Math.pow(10, random.nextDouble() * 6) * 100);
}

/** 3 to maxLength - 1 letters, each position `special` with probability 1/13, trimmed as Java trims. */
function nextString(maxLength: number, special: string, from: JavaRandom = random): string {
  let length = MIN_STRING_LENGTH + from.nextInt(maxLength - MIN_STRING_LENGTH);
  let text = '';
  while (length-- > 0) text += from.nextInt(13) === 0 ? special : LETTERS[from.nextInt(26)];
  return text.trim();
}

/** Padding that brings an event of `currentSize` bytes to `desiredAverageSize` on average (±20%). */
function nextExtra(currentSize: number, desiredAverageSize: number): string {
  if (currentSize > desiredAverageSize) return '';
  const remaining = desiredAverageSize - currentSize;
  const delta = Math.round(remaining * 0.2);
  const size = remaining - delta + (delta === 0 ? 0 : random.nextInt(2 * delta));
  return nextExactString(size);
}

let reusableExtraText: string | undefined;

/** A slice of one shared random text, as the reference does to keep padding cheap; long ones are drawn afresh. */
function nextExactString(length: number): string {
  const text = reusableExtraText ??= drawExactString(new JavaRandom(EXTRA_TEXT_SEED), REUSABLE_EXTRA_LENGTH);
  if (length < text.length / 2) {
    const start = random.nextInt(text.length - length);
    return text.substring(start, start + length);
  }
  return drawExactString(random, length);
}

/**
 * The reference's nextExactString: six characters from each nextInt. Java's remainder keeps the
 * sign, so a negative int yields characters below 'a' ('H' to '`'); we keep that.
 */
function drawExactString(from: JavaRandom, length: number): string {
  const codes = Buffer.allocUnsafe(length);
  let rnd = 0;
  let left = 0;
  for (let i = 0; i < length; i++) {
    if (left === 0) {
      rnd = from.nextInt();
      left = 6;
    }
    codes[i] = 0x61 + (rnd % 26);
    rnd = (rnd / 26) | 0;
    left--;
  }
  return codes.toString('latin1');
}
