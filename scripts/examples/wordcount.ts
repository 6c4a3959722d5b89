/**
 * WordCount, the "hello world" of stream processing, as in Flink's examples.
 *
 *   npx cloudflink run scripts/examples/wordcount.ts --embedded --wait
 *   npx cloudflink run scripts/examples/wordcount.ts --param input=big.txt --param output=counts.txt --parallelism 4 --wait
 *
 * params: `input` (default: the bundled Hamlet soliloquy), `output` (default: print).
 * Words are what lies between spaces, as `tr -s ' \n' '\n'` splits them; case and
 * punctuation are kept. The counts are rolling: every word's count is emitted each time it
 * changes, so the last line for a word is its total.
 */
import { fileURLToPath } from 'node:url';
import type { StreamExecutionEnvironment } from '../../lib/api/index.ts';

export const jobName = 'wordcount';

const bundledText = fileURLToPath(new URL('./data/hamlet.txt', import.meta.url));

export default function wordcount(env: StreamExecutionEnvironment, params: Record<string, string>): void {
  const counts = env
    .readTextFile(params.input ?? bundledText)
    .flatMap(function tokenize(line: string) {
      return line.split(' ').filter((word) => word.length > 0).map((word) => [word, 1] as [string, number]);
    })
    .keyBy(0)
    .sum(1)
    .map(function format([word, count]: [string, number]) { return `${word} ${count}`; });
  if (params.output) counts.writeAsText(params.output).setParallelism(1);
  else counts.print();
}
