/**
 * WordCount in batch, as Flink's DataSet example: the input is read to its end, each word's
 * count comes out once, and the counts are sorted, most frequent first.
 *
 *   npx cloudflink run scripts/examples/batch-wordcount.ts --embedded --wait
 *   npx cloudflink run scripts/examples/batch-wordcount.ts --param input=books/ --param output=counts.txt --parallelism 2 --wait
 *
 * params: `input` (a file or a directory of files; default: the bundled Hamlet soliloquy),
 * `output` (one file; default: print). Words are what lies between spaces, as in the
 * streaming wordcount.ts; case and punctuation are kept. The grouping pre-sums each subtask's
 * words in a combiner before the shuffle; the sort runs in one instance, so that the whole
 * output is in order, ties by word.
 */
import { fileURLToPath } from 'node:url';
import type { ExecutionEnvironment } from '../../lib/api/index.ts';

export const jobName = 'batch-wordcount';
export const mode = 'batch';

const bundledText = fileURLToPath(new URL('./data/hamlet.txt', import.meta.url));

export default function batchWordcount(env: ExecutionEnvironment, params: Record<string, string>): void {
  const counts = env
    .readTextFile(params.input ?? bundledText)
    .flatMap(function tokenize(line: string) {
      return line.split(' ').filter((word) => word.length > 0).map((word) => [word, 1] as [string, number]);
    })
    .groupBy(0)
    .sum(1)
    .sortPartition(1, 'desc').sortPartition(0, 'asc').setParallelism(1)
    // At parallelism 1 too: a wider map would read the sorted records round-robin, out of order.
    .map(function format([word, count]: [string, number]) { return `${word} ${count}`; }).setParallelism(1);
  if (params.output) counts.writeAsText(params.output).setParallelism(1);
  else counts.print();
}
