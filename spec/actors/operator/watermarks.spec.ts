import { expect } from 'chai';
import { WatermarkGenerator, WatermarkTracker } from '../../../actors/operator/watermarks.ts';
import { prng } from '../../helpers/random.ts';

const NONE = Number.NEGATIVE_INFINITY;

describe('WatermarkTracker', () => {
  const CHANNELS = ['0:0', '0:1', '2:0'];

  it('starts at -Infinity and advances to the minimum once every channel has a watermark', () => {
    const tracker = new WatermarkTracker(CHANNELS);
    expect(tracker.current).to.equal(NONE);
    expect(tracker.watermark('0:0', 10)).to.equal(undefined);
    expect(tracker.watermark('0:1', 5)).to.equal(undefined);
    expect(tracker.current, 'a channel with no watermark yet holds the others back').to.equal(NONE);
    expect(tracker.watermark('2:0', 7)).to.equal(5);
    expect(tracker.watermark('0:1', 20)).to.equal(7);
    expect(tracker.watermark('2:0', 8)).to.equal(8);
    expect(tracker.watermark('2:0', 30)).to.equal(10);
    expect(tracker.current).to.equal(10);
  });

  it('reports only advances: an equal minimum, or a channel that is not the minimum, returns nothing', () => {
    const tracker = new WatermarkTracker(['a', 'b']);
    tracker.watermark('a', 10);
    expect(tracker.watermark('b', 10)).to.equal(10);
    expect(tracker.watermark('b', 50)).to.equal(undefined);
    expect(tracker.watermark('a', 10)).to.equal(undefined);
    expect(tracker.current).to.equal(10);
  });

  it('never goes back: a lower watermark changes neither the channel nor the instance', () => {
    const tracker = new WatermarkTracker(['a', 'b']);
    tracker.watermark('a', 10);
    tracker.watermark('b', 20);
    expect(tracker.current).to.equal(10);
    expect(tracker.watermark('a', 3)).to.equal(undefined);
    expect(tracker.current).to.equal(10);
    // Channel a is still at 10, not 3: b passing it makes 10 the minimum, a advancing past b makes 20.
    expect(tracker.watermark('a', 25)).to.equal(20);
    expect(tracker.watermark('b', 2)).to.equal(undefined);
    expect(tracker.watermark('b', 21)).to.equal(21);
  });

  it('leaves out an idle channel, which may advance the watermark at once', () => {
    const tracker = new WatermarkTracker(['a', 'b']);
    tracker.watermark('a', 10);
    expect(tracker.idle('b'), 'b never sent anything; idle, it no longer holds a back').to.equal(10);
    expect(tracker.watermark('a', 15)).to.equal(15);
    expect(tracker.allIdle).to.equal(false);
  });

  it('takes an idle channel back when it sends a watermark, without going back to it', () => {
    const tracker = new WatermarkTracker(['a', 'b']);
    tracker.watermark('a', 10);
    tracker.idle('b');
    expect(tracker.watermark('b', 4), 'b counts again, behind: the instance stays').to.equal(undefined);
    expect(tracker.current).to.equal(10);
    expect(tracker.watermark('a', 30), 'b holds the minimum back again').to.equal(undefined);
    expect(tracker.watermark('b', 25)).to.equal(25);
  });

  it('takes an idle channel back when records come on it (active), with the watermark it had', () => {
    const tracker = new WatermarkTracker(['a', 'b']);
    tracker.watermark('a', 10);
    tracker.watermark('b', 12);
    expect(tracker.idle('a')).to.equal(12);
    expect(tracker.active('a'), 'a is back at 10').to.equal(undefined);
    expect(tracker.watermark('b', 40)).to.equal(undefined);
    expect(tracker.current).to.equal(12);
    expect(tracker.active('b'), 'active on a channel that is not idle changes nothing').to.equal(undefined);
    expect(tracker.watermark('a', 35)).to.equal(35);
  });

  it('leaves out ended channels; once all ended, nothing advances (end of input fires what remains)', () => {
    const tracker = new WatermarkTracker(['a', 'b', 'c']);
    tracker.watermark('a', 10);
    tracker.watermark('b', 20);
    expect(tracker.ended('c'), 'c never sent a watermark; ended, it no longer counts').to.equal(10);
    expect(tracker.ended('a')).to.equal(20);
    expect(tracker.watermark('a', 100), 'a ended: what it sends after does not count').to.equal(undefined);
    expect(tracker.ended('b')).to.equal(undefined);
    expect(tracker.current).to.equal(20);
    expect(tracker.allIdle, 'no live channel is not an idle instance').to.equal(false);
  });

  it('does not advance when every live channel is idle, and says it is all idle', () => {
    const tracker = new WatermarkTracker(['a', 'b', 'c']);
    tracker.watermark('a', 5);
    tracker.watermark('b', 7);
    tracker.watermark('c', 9);
    expect(tracker.current).to.equal(5);
    expect(tracker.ended('c')).to.equal(undefined);
    expect(tracker.idle('a')).to.equal(7);
    expect(tracker.allIdle).to.equal(false);
    expect(tracker.idle('b'), 'nothing is known with every live channel idle').to.equal(undefined);
    expect(tracker.current).to.equal(7);
    expect(tracker.allIdle, 'a and b idle, c ended').to.equal(true);
    expect(tracker.watermark('a', 50)).to.equal(50);
    expect(tracker.allIdle).to.equal(false);
  });

  it('ignores channels it does not know', () => {
    const tracker = new WatermarkTracker(['a']);
    expect(tracker.watermark('x', 10)).to.equal(undefined);
    expect(tracker.idle('x')).to.equal(undefined);
    expect(tracker.ended('x')).to.equal(undefined);
    expect(tracker.active('x')).to.equal(undefined);
    expect(tracker.watermark('a', 3)).to.equal(3);
  });

  it('with no channels (a source) is never idle and never advances', () => {
    const tracker = new WatermarkTracker([]);
    expect(tracker.allIdle).to.equal(false);
    expect(tracker.current).to.equal(NONE);
  });

  type Step =
    | { kind: 'watermark'; channel: string; watermark: number }
    | { kind: 'active' | 'idle' | 'ended'; channel: string };

  /** Each channel as the steps so far leave it, computed afresh from the whole history. */
  function channelsAfter(channels: string[], steps: Step[]): Map<string, { watermark: number; idle: boolean; ended: boolean }> {
    const state = new Map(channels.map((c) => [c, { watermark: NONE, idle: false, ended: false }]));
    for (const step of steps) {
      const channel = state.get(step.channel)!;
      if (step.kind === 'watermark') {
        channel.watermark = Math.max(channel.watermark, step.watermark);
        channel.idle = false;
      } else if (step.kind === 'active') {
        channel.idle = false;
      } else if (step.kind === 'idle') {
        channel.idle = true;
      } else {
        channel.ended = true;
      }
    }
    return state;
  }

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`on random steps, is the highest minimum over the counted channels seen so far, and reports each rise once (seed ${seed})`, () => {
      const random = prng(seed);
      const channels = Array.from({ length: 1 + Math.floor(random() * 5) }, (_, i) => `${i % 2}:${i}`);
      const tracker = new WatermarkTracker(channels);
      const steps: Step[] = [];
      let expected = NONE;
      let rises = 0;
      for (let i = 0; i < 400; i++) {
        const channel = channels[Math.floor(random() * channels.length)]!;
        const roll = random();
        const step: Step = roll < 0.6 ? { kind: 'watermark', channel, watermark: Math.floor(i * 3 + (random() - 0.7) * 60) }
          : roll < 0.75 ? { kind: 'active', channel }
          : roll < 0.995 ? { kind: 'idle', channel }
          : { kind: 'ended', channel };
        steps.push(step);
        const returned = step.kind === 'watermark' ? tracker.watermark(channel, step.watermark) : tracker[step.kind](channel);

        const state = channelsAfter(channels, steps);
        const counted = [...state.values()].filter((c) => !c.ended && !c.idle);
        const minimum = counted.length === 0 ? undefined : Math.min(...counted.map((c) => c.watermark));
        const rose = minimum !== undefined && minimum > expected;
        if (rose) expected = minimum;
        const what = `step ${i}: ${JSON.stringify(step)}`;
        expect(returned, what).to.equal(rose ? minimum : undefined);
        expect(tracker.current, what).to.equal(expected);
        const live = [...state.values()].filter((c) => !c.ended);
        expect(tracker.allIdle, `${what}: allIdle`).to.equal(live.length > 0 && live.every((c) => c.idle));
        if (rose) rises++;
      }
      // Else the steps would not exercise much.
      expect(rises, 'rises').to.be.greaterThan(3);
    });
  }
});

describe('WatermarkGenerator', () => {
  it('is the largest timestamp seen, minus the out-of-orderness, minus 1 ms', () => {
    const generator = new WatermarkGenerator({ outOfOrdernessMs: 100 }, 0);
    expect(generator.tick(0), 'nothing seen, nothing to say').to.equal(undefined);
    generator.onRecord(1000, 1);
    expect(generator.tick(2)).to.equal(899);
    generator.onRecord(1200, 3);
    generator.onRecord(1150, 4);
    expect(generator.tick(5)).to.equal(1099);
  });

  it('does not go back for a record behind the largest timestamp, and says nothing when it did not advance', () => {
    const generator = new WatermarkGenerator({ outOfOrdernessMs: 10 }, 0);
    generator.onRecord(500, 0);
    expect(generator.tick(1)).to.equal(489);
    generator.onRecord(100, 2);
    expect(generator.tick(3)).to.equal(undefined);
    generator.onRecord(500, 4);
    expect(generator.tick(5)).to.equal(undefined);
    generator.onRecord(501, 6);
    expect(generator.tick(7)).to.equal(490);
  });

  it('with out-of-orderness 0 (ascending timestamps) stays 1 ms behind, so a record at the same time is not late', () => {
    const generator = new WatermarkGenerator({ outOfOrdernessMs: 0 }, 0);
    for (const [t, expected] of [[-50, -51], [-50, undefined], [0, -1], [7, 6], [7, undefined], [8, 7]] as const) {
      generator.onRecord(t, 0);
      expect(generator.tick(0), `after ${t}`).to.equal(expected);
    }
  });

  it('never declares itself idle without an idle timeout', () => {
    const generator = new WatermarkGenerator({ outOfOrdernessMs: 0 }, 0);
    expect(generator.tick(1e9)).to.equal(undefined);
    generator.onRecord(5, 1e9);
    expect(generator.tick(1e12)).to.equal(4);
    expect(generator.tick(2e12)).to.equal(undefined);
  });

  it('declares itself idle once, when nothing came for the timeout since it started or since the last record', () => {
    const generator = new WatermarkGenerator({ outOfOrdernessMs: 0, idleTimeoutMs: 100 }, 1000);
    expect(generator.tick(1099)).to.equal(undefined);
    expect(generator.tick(1100), 'nothing at all since it started').to.equal('idle');
    expect(generator.tick(1200)).to.equal(undefined);
    generator.onRecord(50, 1250);
    expect(generator.tick(1260), 'a record ends idleness: the watermark goes out').to.equal(49);
    expect(generator.tick(1349)).to.equal(undefined);
    expect(generator.tick(1350)).to.equal('idle');
    expect(generator.tick(5000)).to.equal(undefined);
    generator.onRecord(20, 5001);
    expect(generator.tick(5002), 'active again, but the watermark did not advance').to.equal(undefined);
    generator.onRecord(60, 5003);
    expect(generator.tick(5004)).to.equal(59);
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`on random records and ticks: advances exactly, never passes a record within the bound, idles only when quiet (seed ${seed})`, () => {
      const random = prng(seed);
      const outOfOrdernessMs = [0, 1, 25, 300][seed % 4]!;
      const idleTimeoutMs = seed % 3 === 0 ? undefined : 1 + Math.floor(random() * 80);
      let now = Math.floor(random() * 1000);
      const generator = new WatermarkGenerator({ outOfOrdernessMs, idleTimeoutMs }, now);
      let max = NONE;
      let lastEmitted = NONE;
      let lastActivity = now;
      let idle = false;
      let base = Math.floor((random() - 0.5) * 10_000);
      const counts = { watermarks: 0, idles: 0, withinBound: 0 };
      for (let i = 0; i < 2000; i++) {
        now += random() < 0.1 ? Math.floor(random() * 150) : Math.floor(random() * 4);
        if (random() < 0.6) {
          base += Math.floor(random() * 10);
          // Mostly within the bound; now and then far behind (late), which must not lower anything.
          const t = random() < 0.9 ? base - Math.floor(random() * (outOfOrdernessMs + 1)) : base - outOfOrdernessMs - 1 - Math.floor(random() * 500);
          if (t >= max - outOfOrdernessMs) {
            expect(t, `record ${t} within the bound of ${max}`).to.be.greaterThan(lastEmitted);
            counts.withinBound++;
          }
          generator.onRecord(t, now);
          max = Math.max(max, t);
          lastActivity = now;
          idle = false;
          continue;
        }
        const tick = generator.tick(now);
        const what = `tick ${i} at ${now}`;
        if (idleTimeoutMs !== undefined && !idle && now - lastActivity >= idleTimeoutMs) {
          expect(tick, what).to.equal('idle');
          idle = true;
          counts.idles++;
        } else if (idle || max - outOfOrdernessMs - 1 <= lastEmitted) {
          expect(tick, what).to.equal(undefined);
        } else {
          expect(tick, what).to.equal(max - outOfOrdernessMs - 1);
          lastEmitted = tick as number;
          counts.watermarks++;
        }
      }
      expect(counts.watermarks).to.be.greaterThan(10);
      expect(counts.withinBound).to.be.greaterThan(100);
      if (idleTimeoutMs !== undefined) expect(counts.idles).to.be.greaterThan(0);
    });
  }
});
