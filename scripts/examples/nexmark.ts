/**
 * A Nexmark query on the benchmark's generated events.
 *
 *   npx cloudflink run scripts/examples/nexmark.ts --embedded --wait --param query=q2 --param events=1000000
 *
 * params: `query` (q0, q1, q2, q3, q4, q5, q7, q8 or q11; default q1), `events` (default 1000000), `rate` (events per
 * second over all subtasks; default unlimited), `output` (a file or directory of text lines;
 * default: discard, as the benchmark does; `print` prints). The queries are in
 * nexmark/queries.ts, each with its SQL.
 */
import type { StreamExecutionEnvironment } from '../../lib/api/index.ts';
import { QUERIES, WINDOWED, withEventTime, type QueryName } from './nexmark/queries.ts';

export const jobName = 'nexmark';

export default function nexmark(env: StreamExecutionEnvironment, params: Record<string, string>): void {
  const query = (params.query ?? 'q1') as QueryName;
  if (!(query in QUERIES)) throw new Error(`unknown query '${query}'; one of ${Object.keys(QUERIES).join(', ')}`);
  const events = Number(params.events ?? 1_000_000);
  const source = env.nexmark(events, params.rate ? { ratePerSecond: Number(params.rate) } : {});
  const result = QUERIES[query](WINDOWED.includes(query) ? withEventTime(source) : source);
  if (params.output === 'print') result.print();
  else if (params.output) result.writeAsText(params.output);
  else result.discard();
}
