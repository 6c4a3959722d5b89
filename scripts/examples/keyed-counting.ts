/**
 * Keyed counting with exactly-once output: the job the fault-tolerance specs kill nodes under.
 *
 *   npx cloudflink run scripts/examples/keyed-counting.ts --param output=/tmp/counts --parallelism 4 --wait
 *
 * params: `output` (a directory; required), `events` (default 1000000), `keys` (default 1000),
 * `rate` (events per second over all subtasks; default unlimited), `checkpointMs` (default 500),
 * `mode` (exactly-once or at-least-once). Event i has key i % keys; the job keeps a running
 * count per key and writes `key count` each time a count changes, into exactly-once files.
 * With exactly-once, whatever fails, every key's lines are its counts 1, 2, …, events/keys,
 * each exactly once.
 */
import type { StreamExecutionEnvironment } from '../../lib/api/index.ts';

export const jobName = 'keyed-counting';

export default function keyedCounting(env: StreamExecutionEnvironment, params: Record<string, string>): void {
  if (!params.output) throw new Error('keyed-counting needs --param output=<directory>');
  const events = Number(params.events ?? 1_000_000);
  env.enableCheckpointing(Number(params.checkpointMs ?? 500), params.mode === 'at-least-once' ? 'at-least-once' : 'exactly-once');
  env.setRestartStrategy({ type: 'fixed-delay', attempts: 10, delayMs: 200 });
  env.params.keys = params.keys ?? '1000';
  env
    .generate(events, (i: number) => ({ key: i % Number(params.keys), n: 1 }), params.rate ? { ratePerSecond: Number(params.rate) } : {})
    .keyBy('key')
    .sum('n')
    .map(function format(r: { key: number; n: number }) { return `${r.key} ${r.n}`; })
    .sinkToFiles(params.output);
}
