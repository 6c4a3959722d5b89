import type { ExecutionEnvironment } from '../../../lib/api/index.ts';

/** The DataSet API's environment, not the streaming one. */
export const mode = 'batch';
export const jobName = 'batch-wordcount';

/** Counts the words of the text files in `--param input=<dir>` into CSV under `--param output=<path>`, and collects how many distinct words there are. */
export default function batchWordcount(env: ExecutionEnvironment, params: Record<string, string>): void {
  const counts = env.readTextFile(params.input!)
    .flatMap(function words(line: string) { return line.toLowerCase().split(/[^a-z]+/).filter((w) => w !== ''); })
    .map(function one(word: string) { return { word, n: 1 }; })
    .groupBy('word')
    .sum('n');
  counts.writeAsCsv(params.output!, { fields: ['word', 'n'], header: true });
  counts.map(function one() { return 1; }).reduce(function add(a: number, b: number) { return a + b; }).map(function label(n: number) { return `distinct words: ${n}`; }).collect();
}
