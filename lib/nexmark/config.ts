/**
 * Parameters of the Nexmark generator, named and defaulted as the reference's
 * NexmarkConfiguration (github.com/nexmark/nexmark, nexmark-flink). Only the knobs that change
 * generated events are here; rate shapes, event counts and emit pacing belong to the source.
 */
import { CloudflinkError } from '../errors/index.ts';

export interface NexmarkConfig {
  /**
   * Events per second over the whole stream; sets event time only (event n is at
   * baseTime + n · 1e6/rate µs, truncated to ms). The reference's numEventGenerators is not
   * needed: every source instance shares one timeline of global event numbers.
   */
  firstEventRate?: number;
  /** Event time of event 0, epoch ms. Default Beam Nexmark's BASE_TIME, 2015-07-15T00:00:00Z; nexmark-flink uses the wall clock at start, which is not reproducible. */
  baseTime?: number;
  personProportion?: number;
  auctionProportion?: number;
  bidProportion?: number;
  /** Target average size of an event in bytes; the `extra` string pads each event towards it. */
  avgPersonByteSize?: number;
  avgAuctionByteSize?: number;
  avgBidByteSize?: number;
  /** A bid goes to a hot auction with probability 1 - 1/hotAuctionRatio. */
  hotAuctionRatio?: number;
  /** An auction's seller is a hot person with probability 1 - 1/hotSellersRatio. */
  hotSellersRatio?: number;
  /** A bid's bidder is a hot person with probability 1 - 1/hotBiddersRatio. */
  hotBiddersRatio?: number;
  /** How many recent auctions a cold bid picks from; also sets auction lengths. */
  numInFlightAuctions?: number;
  /** How many recent people a cold seller or bidder is picked from. */
  numActivePeople?: number;
  /** Event times are shuffled within groups of this many consecutive event numbers (1: in order). */
  outOfOrderGroupSize?: number;
}

export interface ResolvedNexmarkConfig extends Readonly<Required<NexmarkConfig>> {
  readonly totalProportion: number;
  /** Microseconds of event time between consecutive event numbers. */
  readonly interEventDelayUs: number;
}

/** Defaults of the reference's NexmarkConfiguration. */
export const NEXMARK_DEFAULTS: Readonly<Required<NexmarkConfig>> = Object.freeze({
  firstEventRate: 10_000,
  baseTime: Date.UTC(2015, 6, 15),
  personProportion: 1,
  auctionProportion: 3,
  bidProportion: 46,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
  hotAuctionRatio: 2,
  hotSellersRatio: 4,
  hotBiddersRatio: 4,
  numInFlightAuctions: 100,
  numActivePeople: 1000,
  outOfOrderGroupSize: 1,
});

const JAVA_INT_MAX = 0x7fffffff;
// The reference shuffles a group by eventNumber · 953 mod groupSize, a permutation only when 953 does not divide the size.
const OUT_OF_ORDER_MULTIPLIER = 953;

const resolvedConfigs = new WeakSet<object>();
// A resolved config that went over the wire comes back with these; they are recomputed, not trusted.
const DERIVED_FIELDS = new Set(['totalProportion', 'interEventDelayUs']);

/** Fills defaults and validates; the result is frozen, and the generator takes it without re-checking. */
export function resolveNexmarkConfig(partial: NexmarkConfig = {}): ResolvedNexmarkConfig {
  if (isResolvedNexmarkConfig(partial)) return partial;
  if (typeof partial !== 'object' || partial === null) throw invalid(`expected an object, got ${describe(partial)}`);
  for (const field of Object.keys(partial)) {
    if (!(field in NEXMARK_DEFAULTS) && !DERIVED_FIELDS.has(field)) {
      throw invalid(`unknown field '${field}'; the fields are ${Object.keys(NEXMARK_DEFAULTS).join(', ')}`);
    }
  }
  const value = <K extends keyof NexmarkConfig>(field: K): number => partial[field] ?? NEXMARK_DEFAULTS[field];

  const firstEventRate = value('firstEventRate');
  if (typeof firstEventRate !== 'number' || !Number.isFinite(firstEventRate) || firstEventRate <= 0) {
    throw invalid(`firstEventRate must be a positive number of events per second, got ${describe(firstEventRate)}`);
  }
  const baseTime = integerField('baseTime', value('baseTime'), 0, Number.MAX_SAFE_INTEGER, 'epoch milliseconds');
  const personProportion = integerField('personProportion', value('personProportion'), 1);
  const auctionProportion = integerField('auctionProportion', value('auctionProportion'), 1);
  const bidProportion = integerField('bidProportion', value('bidProportion'), 0);
  const outOfOrderGroupSize = integerField('outOfOrderGroupSize', value('outOfOrderGroupSize'), 1);
  if (outOfOrderGroupSize % OUT_OF_ORDER_MULTIPLIER === 0) {
    throw invalid(`outOfOrderGroupSize must not be a multiple of ${OUT_OF_ORDER_MULTIPLIER}, or events in a group would share an event time and id, got ${outOfOrderGroupSize}`);
  }

  const resolved: ResolvedNexmarkConfig = Object.freeze({
    firstEventRate,
    baseTime,
    personProportion,
    auctionProportion,
    bidProportion,
    avgPersonByteSize: integerField('avgPersonByteSize', value('avgPersonByteSize'), 0),
    avgAuctionByteSize: integerField('avgAuctionByteSize', value('avgAuctionByteSize'), 0),
    avgBidByteSize: integerField('avgBidByteSize', value('avgBidByteSize'), 0),
    // Java's Random.nextInt(bound) takes these as bounds: positive ints.
    hotAuctionRatio: integerField('hotAuctionRatio', value('hotAuctionRatio'), 1, JAVA_INT_MAX),
    hotSellersRatio: integerField('hotSellersRatio', value('hotSellersRatio'), 1, JAVA_INT_MAX),
    hotBiddersRatio: integerField('hotBiddersRatio', value('hotBiddersRatio'), 1, JAVA_INT_MAX),
    numInFlightAuctions: integerField('numInFlightAuctions', value('numInFlightAuctions'), 1, JAVA_INT_MAX),
    numActivePeople: integerField('numActivePeople', value('numActivePeople'), 1, JAVA_INT_MAX),
    outOfOrderGroupSize,
    totalProportion: personProportion + auctionProportion + bidProportion,
    interEventDelayUs: 1_000_000 / firstEventRate,
  });
  resolvedConfigs.add(resolved);
  return resolved;
}

/** True only for the frozen objects resolveNexmarkConfig returned, so a copy or a look-alike is checked again. */
export function isResolvedNexmarkConfig(config: unknown): config is ResolvedNexmarkConfig {
  return typeof config === 'object' && config !== null && resolvedConfigs.has(config);
}

function integerField(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER, unit = ''): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw invalid(`${field} must be an integer ${range}${unit === '' ? '' : ` (${unit})`}, got ${describe(value)}`);
  }
  return value;
}

function invalid(problem: string): CloudflinkError {
  return new CloudflinkError('CONFIG_INVALID', `nexmark config: ${problem}`);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}
