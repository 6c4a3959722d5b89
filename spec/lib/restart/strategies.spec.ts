import { expect } from 'chai';
import {
  UNLIMITED_ATTEMPTS, decideRestart, defaultRestartStrategy, describeRestartStrategy, emptyRestartHistory,
  type RestartDecision, type RestartHistory, type RestartStrategy,
} from '../../../lib/restart/index.ts';

const fixed: RestartStrategy = { type: 'fixed-delay', attempts: 3, delayMs: 1000 };
const exponential: RestartStrategy = {
  type: 'exponential-delay', initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0.1, resetAfterMs: 60_000,
};
const rate: RestartStrategy = { type: 'failure-rate', maxFailures: 2, intervalMs: 10_000, delayMs: 500 };

function history(h: Partial<RestartHistory>): RestartHistory {
  return { ...emptyRestartHistory(), ...h };
}

/** Fails `times` at the given instants, feeding each decision's history into the next. */
function failAt(strategy: RestartStrategy, times: number[], random = 0.5): RestartDecision[] {
  let h = emptyRestartHistory();
  return times.map((now) => {
    const decision = decideRestart(strategy, h, now, random);
    h = decision.history;
    return decision;
  });
}

function outcome(d: RestartDecision): number | string {
  return d.restart ? d.delayMs : d.reason;
}

describe('decideRestart', () => {
  describe('none', () => {
    it('never restarts, and counts the failure', () => {
      const d = decideRestart({ type: 'none' }, emptyRestartHistory(), 5000, 0.5);
      expect(d).to.deep.equal({
        restart: false, reason: 'restarts are disabled (none)', history: { attempts: 0, failureTimes: [5000], lastFailureAt: 5000 },
      });
    });
  });

  describe('fixed-delay', () => {
    const table: Array<{ attempts: number; expected: number | string }> = [
      { attempts: 0, expected: 1000 },
      { attempts: 1, expected: 1000 },
      { attempts: 2, expected: 1000 },
      { attempts: 3, expected: 'gave up after 3 restarts (fixed-delay)' },
      { attempts: 7, expected: 'gave up after 7 restarts (fixed-delay)' },
    ];
    for (const { attempts, expected } of table) {
      it(`with ${attempts} restart(s) behind it: ${String(expected)}`, () => {
        expect(outcome(decideRestart(fixed, history({ attempts }), 10_000, 0.5))).to.equal(expected);
      });
    }

    it('counts restarts granted, and remembers the failure and the delay', () => {
      const d = decideRestart(fixed, history({ attempts: 1, failureTimes: [10], lastFailureAt: 10, lastDelayMs: 1000 }), 5000, 0.5);
      expect(d).to.deep.equal({
        restart: true, delayMs: 1000, history: { attempts: 2, failureTimes: [10, 5000], lastFailureAt: 5000, lastDelayMs: 1000 },
      });
    });

    it('says "1 restart" in the singular, and a zero-attempt strategy gives up at once', () => {
      expect(outcome(decideRestart({ type: 'fixed-delay', attempts: 1, delayMs: 0 }, history({ attempts: 1 }), 0, 0.5)))
        .to.equal('gave up after 1 restart (fixed-delay)');
      expect(outcome(decideRestart({ type: 'fixed-delay', attempts: 0, delayMs: 0 }, emptyRestartHistory(), 0, 0.5)))
        .to.equal('gave up after 0 restarts (fixed-delay)');
    });

    it('keeps only the latest failure times, so a history that flaps forever stays small', () => {
      const decisions = failAt({ type: 'fixed-delay', attempts: UNLIMITED_ATTEMPTS, delayMs: 1 }, Array.from({ length: 50 }, (_, i) => i * 10));
      const last = decisions.at(-1)!;
      expect(last.restart).to.equal(true);
      expect(last.history.attempts).to.equal(50);
      expect(last.history.failureTimes).to.deep.equal([400, 410, 420, 430, 440, 450, 460, 470, 480, 490]);
    });

    it('does not change the history it is given', () => {
      const given = history({ attempts: 1, failureTimes: [10] });
      decideRestart(fixed, given, 20, 0.5);
      expect(given).to.deep.equal({ attempts: 1, failureTimes: [10] });
    });
  });

  describe('exponential-delay', () => {
    it('grows by the multiplier per failure and caps at the maximum (no jitter at random 0.5)', () => {
      const delays = failAt(exponential, [0, 1000, 2000, 3000, 4000, 5000, 6000]).map(outcome);
      expect(delays).to.deep.equal([100, 200, 400, 800, 1000, 1000, 1000]);
    });

    it('keeps the jitter within ±jitter × delay, and within [initial, max]', () => {
      const table: Array<{ attempts: number; random: number; expected: number }> = [
        { attempts: 2, random: 0, expected: 360 }, // 400 − 10 %
        { attempts: 2, random: 1, expected: 440 }, // 400 + 10 %
        { attempts: 2, random: 0.75, expected: 420 },
        { attempts: 0, random: 0, expected: 100 }, // never below the initial delay
        { attempts: 0, random: 1, expected: 110 },
        { attempts: 4, random: 1, expected: 1000 }, // never above the maximum
        { attempts: 4, random: 0, expected: 900 },
      ];
      for (const { attempts, random, expected } of table) {
        const d = decideRestart(exponential, history({ attempts, lastFailureAt: 0 }), 1000, random);
        expect(outcome(d), `attempts ${attempts}, random ${random}`).to.equal(expected);
      }
    });

    it('stays within bounds for any random draw', () => {
      for (let i = 0; i <= 100; i++) {
        const d = decideRestart(exponential, history({ attempts: 3, lastFailureAt: 0 }), 1000, i / 100);
        if (!d.restart) expect.fail('exponential-delay never gives up');
        expect(d.delayMs).to.be.within(720, 880);
      }
    });

    it('resets to the initial delay when the job ran resetAfterMs since the previous failure', () => {
      const table: Array<{ now: number; expected: number }> = [
        { now: 59_999, expected: 800 }, // shorter than resetAfterMs: keeps growing
        { now: 60_000, expected: 100 }, // as long as resetAfterMs: back to the start
        { now: 500_000, expected: 100 },
      ];
      for (const { now, expected } of table) {
        const d = decideRestart(exponential, history({ attempts: 3, lastFailureAt: 0 }), now, 0.5);
        expect(outcome(d), `at ${now}`).to.equal(expected);
        expect(d.history.attempts).to.equal(expected === 100 ? 1 : 4);
      }
    });

    it('grows again after a reset', () => {
      const delays = failAt(exponential, [0, 10, 20, 100_000, 100_010]).map(outcome);
      expect(delays).to.deep.equal([100, 200, 400, 100, 200]);
    });

    it('records the delay granted and the failure', () => {
      const d = decideRestart(exponential, emptyRestartHistory(), 42, 0.5);
      expect(d.history).to.deep.equal({ attempts: 1, failureTimes: [42], lastFailureAt: 42, lastDelayMs: 100 });
    });
  });

  describe('failure-rate', () => {
    const table: Array<{ name: string; times: number[]; expected: Array<number | string> }> = [
      { name: 'two failures within the interval', times: [0, 5000], expected: [500, 500] },
      {
        name: 'a third within the interval',
        times: [0, 5000, 9000],
        expected: [500, 500, 'gave up after 3 failures within 10000 ms, more than the 2 allowed (failure-rate)'],
      },
      { name: 'failures spread wider than the interval', times: [0, 8000, 18_001, 26_000, 36_002], expected: [500, 500, 500, 500, 500] },
      {
        name: 'a failure exactly intervalMs ago still counts',
        times: [0, 5000, 10_000],
        expected: [500, 500, 'gave up after 3 failures within 10000 ms, more than the 2 allowed (failure-rate)'],
      },
    ];
    for (const { name, times, expected } of table) {
      it(`${name} (${times.join(', ')}): ${expected.join(', ')}`, () => {
        expect(failAt(rate, times).map(outcome)).to.deep.equal(expected);
      });
    }

    it('keeps only the failures within the interval', () => {
      const d = decideRestart(rate, history({ attempts: 2, failureTimes: [0, 4000] }), 12_000, 0.5);
      expect(d).to.deep.equal({
        restart: true, delayMs: 500, history: { attempts: 3, failureTimes: [4000, 12_000], lastFailureAt: 12_000, lastDelayMs: 500 },
      });
    });

    it('with maxFailures 0, the first failure gives up', () => {
      const d = decideRestart({ type: 'failure-rate', maxFailures: 0, intervalMs: 1000, delayMs: 0 }, emptyRestartHistory(), 0, 0.5);
      expect(outcome(d)).to.equal('gave up after 1 failure within 1000 ms, more than the 0 allowed (failure-rate)');
    });
  });
});

describe('defaultRestartStrategy', () => {
  it("is Flink's: fixed-delay forever, 1 s apart, with checkpointing; none without", () => {
    expect(defaultRestartStrategy(true)).to.deep.equal({ type: 'fixed-delay', attempts: 2147483647, delayMs: 1000 });
    expect(defaultRestartStrategy(false)).to.deep.equal({ type: 'none' });
  });
});

describe('describeRestartStrategy', () => {
  it('says each strategy in a line', () => {
    expect(describeRestartStrategy({ type: 'none' })).to.equal('none: a failed job is not restarted');
    expect(describeRestartStrategy(fixed)).to.equal('fixed-delay: up to 3 restarts, 1000 ms after each failure');
    expect(describeRestartStrategy(defaultRestartStrategy(true))).to.equal('fixed-delay: restart forever, 1000 ms after each failure');
    expect(describeRestartStrategy(exponential)).to.equal(
      'exponential-delay: 100 ms, ×2 per failure up to 1000 ms, ±10% jitter, back to 100 ms after 60000 ms without a failure');
    expect(describeRestartStrategy(rate)).to.equal(
      'failure-rate: restart 500 ms after each failure, give up after more than 2 failures within 10000 ms');
  });
});
