import { expect } from 'chai';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import {
  AUCTION_ID_LEAD, FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID, JavaRandom, NEXMARK_DEFAULTS, NUM_CATEGORIES, PERSON_ID_LEAD,
  eventTime, nexmarkEvent, nexmarkEventGenerator, nexmarkEventTime, nexmarkEventType, nexmarkWatermark, resolveNexmarkConfig,
  type Bid, type NexmarkConfig, type NexmarkEvent,
} from '../../../lib/nexmark/index.ts';
import { hopStarts, q1, q11, q2, q3, q4, q5, q7, q8, tumbleStart } from '../../helpers/nexmark-reference.ts';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const events = (from: number, to: number, config: NexmarkConfig = {}): NexmarkEvent[] => {
  const generate = nexmarkEventGenerator(config);
  return range(from, to).map(generate);
};

/**
 * A straightforward java.util.Random in BigInt, written from the Java SE specification, to
 * check the fast one against on inputs nobody has published outputs for.
 */
class SpecJavaRandom {
  private seed: bigint;
  constructor(seed: bigint) { this.seed = BigInt.asUintN(48, seed ^ 0x5deece66dn); }
  next(bits: number): number {
    this.seed = BigInt.asUintN(48, this.seed * 0x5deece66dn + 0xbn);
    return Number(BigInt.asIntN(32, this.seed >> BigInt(48 - bits)));
  }
  nextInt(bound: number): number {
    let r = this.next(31);
    const m = bound - 1;
    if ((bound & m) === 0) return Number((BigInt(bound) * BigInt(r)) >> 31n);
    for (let u = r; BigInt.asIntN(32, BigInt(u - (r = u % bound) + m)) < 0n; u = this.next(31));
    return r;
  }
}

describe('JavaRandom', () => {
  it('gives the well-known outputs of java.util.Random', () => {
    expect(new JavaRandom(0).nextInt()).to.equal(-1155484576);
    expect(new JavaRandom(42).nextInt()).to.equal(-1170105035);
    expect(new JavaRandom(0).nextDouble()).to.equal(0.730967787376657);
    expect(new JavaRandom(0).nextLong()).to.equal(-4962768465676381896n);
  });

  // Values printed by OpenJDK 17's java.util.Random.
  it('matches OpenJDK for bounded ints, negative and large seeds, longs and doubles', () => {
    const draws = (random: JavaRandom, bound: number, count: number): number[] => range(0, count).map(() => random.nextInt(bound));
    expect(draws(new JavaRandom(42), 100, 10)).to.deep.equal([30, 63, 48, 84, 70, 25, 5, 18, 19, 93]);
    expect(draws(new JavaRandom(7), 16, 6)).to.deep.equal([11, 10, 11, 0, 5, 7]);
    expect(draws(new JavaRandom(1099511627779), 1_000_000, 4)).to.deep.equal([808358, 567500, 792258, 868917]);
    expect(draws(new JavaRandom(-123456789), 2 ** 30, 4)).to.deep.equal([360543966, 833995430, 1036589295, 752268704]);
    expect(draws(new JavaRandom(2024), 0x7fffffff, 3)).to.deep.equal([1328119050, 1580346626, 404367186]);
    expect(new JavaRandom(-1).nextInt()).to.equal(1155099827);
    expect(new JavaRandom(123456789012345n).nextInt(1000)).to.equal(174);
    const five = new JavaRandom(5);
    expect([five.nextLong(), five.nextDouble(), five.nextInt()]).to.deep.equal([-4971030886054769832n, 0.08825840967622589, 2099829013]);
  });

  it('agrees with a BigInt rendering of the Java specification', () => {
    for (const seed of [0, 1, 17, 1000, 123_456_789, 2 ** 47 + 5, 2 ** 52 - 1, -1, -98_765]) {
      const fast = new JavaRandom(seed);
      const spec = new SpecJavaRandom(BigInt(seed));
      for (const bound of [1, 2, 3, 13, 26, 100, 1024, 10_000, 1_048_000, 2 ** 30 + 1, 0x7fffffff]) {
        expect(fast.nextInt(bound), `seed ${seed}, bound ${bound}`).to.equal(spec.nextInt(bound));
        expect(fast.next(32), `seed ${seed}, next(32)`).to.equal(spec.next(32));
      }
    }
  });

  it('refuses a bound Java refuses', () => {
    expect(() => new JavaRandom(1).nextInt(0)).to.throw(RangeError, /bound/);
    expect(() => new JavaRandom(1).nextInt(2 ** 31)).to.throw(RangeError, /bound/);
  });
});

describe('nexmarkEvent', () => {
  const config = resolveNexmarkConfig();

  it('is a pure function of the event number and the config', () => {
    const probe = [0, 1, 4, 49, 50, 12_345, 1_000_003, 987_654_321];
    const first = probe.map((n) => nexmarkEvent(n, config));
    // Other events in between, in another order, and with an unresolved config, change nothing.
    events(0, 500);
    const again = [...probe].reverse().map((n) => nexmarkEvent(n, {})).reverse();
    expect(again).to.deep.equal(first);
    expect(probe.map(nexmarkEventGenerator({ firstEventRate: 10_000 }))).to.deep.equal(first);
  });

  // Printed by the reference (nexmark-flink's generator, with Random(eventId) per event as Beam
  // seeds it, and this module's fixed seeds for its two static tables) on OpenJDK 17.
  it('generates the reference events', () => {
    expect(nexmarkEvent(0, config)).to.deep.equal({
      type: 'person',
      person: {
        id: 1000, name: 'Peter Jones', emailAddress: 'nhd@xcat.com', creditCard: '7241 7320 9143 4888', city: 'Portland', state: 'WY',
        dateTime: 1436918400000,
        extra: 'Q`QZPQlgmqxjganbcmnkdssuZ`WZ]ZHKO]NRrninxdjlupxtUI`ZMVHVTYSMT\\LHXH^H_Ya[osgmdhdjcucrarkajzUYJSK]ULKRP]`PR\\`JnnpqonJUIN]SokbjcuihxzfpY[WMPVY\\`^QK^`T]P[^LL\\KO',
      },
    });
    const auction = nexmarkEvent(1, config);
    expect(auction.type === 'auction' && { ...auction.auction, extra: auction.auction.extra.length }).to.deep.equal({
      id: 1000, itemName: 'wkx mgee', description: 'eszpqxtdxrvwmmywkmogoahf', initialBid: 28873, reserve: 29448,
      dateTime: 1436918400000, expires: 1436918400011, seller: 1000, category: 13, extra: 346,
    });
    expect(nexmarkEvent(4, config)).to.deep.equal({
      type: 'bid',
      bid: {
        auction: 1000, bidder: 1001, price: 32530001, channel: 'Google', url: 'https://www.nexmark.com/vfk/czu/ium/item.htm?query=1',
        dateTime: 1436918400000, extra: 'XO]NXP_IRJI[P`vgrqpnojckaclkhvfuU[ONVMbseylvTHM[\\VyhbauqZ',
      },
    });
    const coldChannel = nexmarkEvent(49, config);
    expect(coldChannel.type === 'bid' && { ...coldChannel.bid, extra: undefined }).to.deep.equal({
      auction: 1000, bidder: 1001, price: 545, channel: 'channel-4763',
      url: 'https://www.nexmark.com/yed/akn/hcml/item.htm?query=1&channel_id=649592832', dateTime: 1436918400004, extra: undefined,
    });
    const later = nexmarkEvent(1_000_051, config);
    expect(later.type === 'auction' && { ...later.auction, extra: undefined }).to.deep.equal({
      id: 61003, itemName: 'nhkg', description: 'efq lhkbilz obenpnn vzdk qzhrlmtsnzswrksqfxt  qjhdzubjdit x zmmokjhy',
      initialBid: 461232, reserve: 2537152, dateTime: 1436918500005, expires: 1436918500209, seller: 21000, category: 10, extra: undefined,
    });
  });

  it('makes 1 person, 3 auctions and 46 bids of every 50 events, in that order', () => {
    const k = 200;
    const all = events(0, 50 * k);
    const counts = { person: 0, auction: 0, bid: 0 };
    all.forEach((event, n) => {
      counts[event.type]++;
      const offset = n % 50;
      expect(event.type).to.equal(offset === 0 ? 'person' : offset < 4 ? 'auction' : 'bid');
      expect(nexmarkEventType(n, config)).to.equal(event.type);
    });
    expect(counts).to.deep.equal({ person: k, auction: 3 * k, bid: 46 * k });
  });

  it('numbers people and auctions consecutively from 1000, and picks categories from 10', () => {
    const all = events(0, 50_000);
    const personIds = all.flatMap((e) => (e.type === 'person' ? [e.person.id] : []));
    const auctions = all.flatMap((e) => (e.type === 'auction' ? [e.auction] : []));
    expect(personIds).to.deep.equal(range(FIRST_PERSON_ID, FIRST_PERSON_ID + 1000));
    expect(auctions.map((a) => a.id)).to.deep.equal(range(FIRST_AUCTION_ID, FIRST_AUCTION_ID + 3000));
    expect(new Set(auctions.map((a) => a.category))).to.deep.equal(new Set(range(FIRST_CATEGORY_ID, FIRST_CATEGORY_ID + NUM_CATEGORIES)));
  });

  it('refers bids and sellers to people and auctions that exist by then, or to one of the next few (as the reference does)', () => {
    let lastPerson = FIRST_PERSON_ID - 1;
    let lastAuction = FIRST_AUCTION_ID - 1;
    let bids = 0;
    let resolved = 0;
    const violations: string[] = [];
    const check = (ok: boolean, what: () => string): void => { if (!ok && violations.length < 5) violations.push(what()); };
    events(0, 200_000).forEach((event, n) => {
      if (event.type === 'person') {
        lastPerson = event.person.id;
      } else if (event.type === 'auction') {
        const { seller, dateTime, expires } = event.auction;
        lastAuction = event.auction.id;
        check(seller >= FIRST_PERSON_ID && seller <= lastPerson + PERSON_ID_LEAD, () => `event ${n}: seller ${seller}, last person ${lastPerson}`);
        check(expires > dateTime, () => `event ${n}: expires ${expires} <= dateTime ${dateTime}`);
      } else {
        const { auction, bidder, price } = event.bid;
        bids++;
        if (auction <= lastAuction && bidder <= lastPerson) resolved++;
        // Hot auctions are within 100 of the last one, cold ones within numInFlightAuctions.
        const oldest = Math.max(FIRST_AUCTION_ID, lastAuction - Math.max(NEXMARK_DEFAULTS.numInFlightAuctions, 99));
        check(auction >= oldest && auction <= lastAuction + AUCTION_ID_LEAD, () => `event ${n}: auction ${auction}, last auction ${lastAuction}`);
        check(bidder >= FIRST_PERSON_ID && bidder <= lastPerson + PERSON_ID_LEAD, () => `event ${n}: bidder ${bidder}, last person ${lastPerson}`);
        check(price >= 100 && price <= 100_000_000, () => `event ${n}: price ${price}`);
      }
    });
    expect(violations).to.deep.equal([]);
    // Cold picks reach up to 10 ids ahead; with the default ratios about 5% of bids do.
    expect(resolved / bids).to.be.above(0.93);
  });

  it('makes hot auctions and bidders as frequent as the ratios say', () => {
    const bids = events(0, 100_000).flatMap((e) => (e.type === 'bid' ? [e.bid] : []));
    const share = (pick: (bid: Bid) => boolean): number => bids.filter(pick).length / bids.length;
    // P(hot) = 1 - 1/ratio, plus the cold picks that land on a hot id by chance.
    expect(share((b) => (b.auction - FIRST_AUCTION_ID) % 100 === 0)).to.be.within(0.49, 0.53);
    expect(share((b) => (b.bidder - FIRST_PERSON_ID) % 100 === 1)).to.be.within(0.74, 0.77);
    const hotter = events(0, 50_000, { hotAuctionRatio: 100 }).flatMap((e) => (e.type === 'bid' ? [e.bid] : []));
    expect(hotter.filter((b) => (b.auction - FIRST_AUCTION_ID) % 100 === 0).length / hotter.length).to.be.above(0.98);
  });

  it('pads events towards the configured average sizes', () => {
    const bids = events(0, 50_000, { avgBidByteSize: 300 }).flatMap((e) => (e.type === 'bid' ? [e.bid] : []));
    const meanExtra = bids.reduce((sum, b) => sum + b.extra.length, 0) / bids.length;
    expect(meanExtra).to.be.within(300 - 32 - 2, 300 - 32 + 2);
    expect(events(0, 100, { avgBidByteSize: 0 }).every((e) => e.type !== 'bid' || e.bid.extra === '')).to.equal(true);
  });

  it('spaces event times by the configured rate from the base time, in event-number order', () => {
    const all = events(0, 20_000);
    all.forEach((event, n) => expect(eventTime(event)).to.equal(NEXMARK_DEFAULTS.baseTime + Math.floor(n / 10)));
    expect(NEXMARK_DEFAULTS.baseTime).to.equal(Date.parse('2015-07-15T00:00:00Z'));

    const slow = { firstEventRate: 3, baseTime: 1_000_000 };
    expect(range(0, 7).map((n) => nexmarkEventTime(n, slow))).to.deep.equal([1_000_000, 1_000_333, 1_000_666, 1_001_000, 1_001_333, 1_001_666, 1_002_000]);
    expect(range(0, 7).map((n) => eventTime(nexmarkEvent(n, slow)))).to.deep.equal(range(0, 7).map((n) => nexmarkEventTime(n, slow)));
    const times = events(0, 5000, { firstEventRate: 777 }).map(eventTime);
    for (let n = 1; n < times.length; n++) expect(times[n]).to.be.at.least(times[n - 1]);
  });

  it('shuffles events within out-of-order groups, keeping the watermark below every later event', () => {
    const groupSize = 10;
    const config = { outOfOrderGroupSize: groupSize, firstEventRate: 1000 };
    const shuffled = events(0, 1000, config);
    const ordered = events(0, 1000, { firstEventRate: 1000 });
    const group = (of: NexmarkEvent[], base: number): string[] => of.slice(base, base + groupSize).map((e) => JSON.stringify(e)).sort();
    for (let base = 0; base < 1000; base += groupSize) expect(group(shuffled, base)).to.deep.equal(group(ordered, base));
    const times = shuffled.map(eventTime);
    expect(times.some((time, n) => n > 0 && time < times[n - 1])).to.equal(true);
    let laterMin = Infinity;
    for (let n = shuffled.length - 1; n >= 0; n--) {
      laterMin = Math.min(laterMin, times[n]);
      expect(nexmarkWatermark(n, config)).to.be.at.most(laterMin);
    }
  });

  it('refuses an event number that is not a safe integer >= 0', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => nexmarkEvent(bad, config)).to.throw(RangeError, /event number/);
  });
});

describe('resolveNexmarkConfig', () => {
  it('fills the reference defaults and keeps given values', () => {
    expect(resolveNexmarkConfig({ hotBiddersRatio: 10 })).to.deep.include({ ...NEXMARK_DEFAULTS, hotBiddersRatio: 10, totalProportion: 50, interEventDelayUs: 100 });
  });

  it('names the field that is wrong', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ firstEventRate: 0 }, /firstEventRate must be a positive number/],
      [{ firstEventRate: '10' }, /firstEventRate .* got '10'/],
      [{ hotAuctionRatio: 0 }, /hotAuctionRatio must be an integer in \[1, 2147483647\], got 0/],
      [{ hotSellersRatio: 1.5 }, /hotSellersRatio must be an integer/],
      [{ numActivePeople: -3 }, /numActivePeople/],
      [{ personProportion: 0 }, /personProportion must be an integer >= 1/],
      [{ baseTime: -1 }, /baseTime must be an integer >= 0 \(epoch milliseconds\)/],
      [{ outOfOrderGroupSize: 953 * 2 }, /outOfOrderGroupSize must not be a multiple of 953/],
      [{ eventsPerSecond: 5 }, /unknown field 'eventsPerSecond'.*firstEventRate/],
      [null, /expected an object/],
    ];
    for (const [config, message] of cases) {
      expect(() => resolveNexmarkConfig(config as NexmarkConfig), String(message)).to.throw(CloudflinkError, message)
        .with.property('code', 'CONFIG_INVALID');
    }
  });

  it('checks a copy of a resolved config again, and takes one back from the wire', () => {
    const resolved = resolveNexmarkConfig({ firstEventRate: 3 });
    expect(Object.isFrozen(resolved)).to.equal(true);
    expect(resolveNexmarkConfig(JSON.parse(JSON.stringify(resolved)) as NexmarkConfig)).to.deep.equal(resolved);
    expect(resolveNexmarkConfig({ ...resolved, interEventDelayUs: 1 } as NexmarkConfig)).to.deep.equal(resolved);
    expect(() => nexmarkEvent(0, { ...resolved, hotAuctionRatio: 0 })).to.throw(CloudflinkError, /hotAuctionRatio/);
  });
});

describe('Nexmark reference queries (sanity)', () => {
  const bid = (bidder: number, auction: number, price: number, dateTime: number): NexmarkEvent =>
    ({ type: 'bid', bid: { auction, bidder, price, channel: 'c', url: 'u', dateTime, extra: '' } });

  it('aligns windows to the epoch, half open', () => {
    expect(tumbleStart(19_999, 10_000)).to.equal(10_000);
    expect(tumbleStart(20_000, 10_000)).to.equal(20_000);
    expect(hopStarts(10_000, 10_000, 2000)).to.deep.equal([2000, 4000, 6000, 8000, 10_000]);
  });

  it('keeps a session open for a bid exactly 10 s after the last (q11)', () => {
    const rows = q11([bid(1, 7, 5, 0), bid(1, 7, 5, 10_000), bid(1, 7, 5, 20_001), bid(2, 7, 5, 3)]);
    expect(rows).to.deep.equal([
      { bidder: 1, bidCount: 2, starttime: 0, endtime: 20_000 },
      { bidder: 1, bidCount: 1, starttime: 20_001, endtime: 30_001 },
      { bidder: 2, bidCount: 1, starttime: 3, endtime: 10_003 },
    ]);
  });

  it('matches a bid at a window end against that window too (q7), and keeps ties (q5)', () => {
    const input = [bid(1, 7, 50, 1000), bid(2, 8, 40, 2000), bid(3, 9, 50, 10_000)];
    expect(q7(input).map((r) => r.bidder)).to.deep.equal([1, 3, 3]);
    expect(q5(input).filter((r) => r.windowStart === 2000)).to.deep.equal([
      { auction: 8, num: 1, windowStart: 2000, windowEnd: 12_000 },
      { auction: 9, num: 1, windowStart: 2000, windowEnd: 12_000 },
    ]);
  });

  it('runs every query over generated events with plausible results', () => {
    const all = events(0, 300_000);
    expect(q1(all)[0].price).to.equal((32530001 * 908) / 1000);
    expect(q2(all).every((r) => r.auction % 123 === 0)).to.equal(true);
    expect(q3(all).length).to.be.above(0);
    expect(q3(all).every((r) => ['OR', 'ID', 'CA'].includes(r.state))).to.equal(true);
    expect(q4(all).map((r) => r.category)).to.deep.equal(range(10, 15));
    expect(q8(all).length).to.be.above(0);
  });
});
