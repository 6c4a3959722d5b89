/**
 * PageRank as a bulk iteration, as Flink's DataSet example: each round spreads every page's rank
 * over its out-links, and a page's next rank is (1 − d)/N + d · the ranks it received.
 *
 *   npx cloudflink run scripts/examples/pagerank.ts --embedded --wait
 *   npx cloudflink run scripts/examples/pagerank.ts --param input=links.csv --param iterations=20 --param output=ranks.txt --wait
 *
 * params: `input` (CSV `from,to` with a header, one link per line; default: a bundled graph of
 * 40 pages), `iterations` (default 10), `damping` (d, default 0.85), `output` (one file of
 * `page rank` lines, highest rank first; default: print). N is counted from the pages the links
 * name. As in Flink's example, a page without out-links passes its rank nowhere.
 */
import { fileURLToPath } from 'node:url';
import type { DataSet, ExecutionEnvironment } from '../../lib/api/index.ts';

export const jobName = 'pagerank';
export const mode = 'batch';

const bundledLinks = fileURLToPath(new URL('./data/links.csv', import.meta.url));

interface Link { from: number; to: number }
interface Rank { page: number; rank: number; pages: number }

/** The job's params, as every user function sees them (they run on the Task Managers). */
declare const params: { damping: number };

export default function pagerank(env: ExecutionEnvironment, options: Record<string, string>): void {
  env.params.damping = Number(options.damping ?? 0.85);
  const links = env.readCsvFile<Link>(options.input ?? bundledLinks, {
    fields: [{ name: 'from', type: 'integer' }, { name: 'to', type: 'integer' }], header: true,
  });
  const outLinks = links.groupBy('from').reduceGroup(function adjacency(edges: Link[], from: unknown) {
    return [{ page: from as number, targets: edges.map((e) => e.to) }];
  });
  const pages = links.flatMap(function ends(link: Link) { return [link.from, link.to]; }).distinct();
  const count = pages.map(function one() { return 1; }).reduce(function add(a: number, b: number) { return a + b; });
  const initial = pages.cross(count).with(function uniform(page: number, n: number): Rank { return { page, rank: 1 / n, pages: n }; });

  const ranks = initial.iterate(Number(options.iterations ?? 10), (partial: DataSet<Rank>) => {
    const sent = partial.join(outLinks).where('page').equalTo('page')
      .with(function share(r: Rank, out: { page: number; targets: number[] }) { return { r, targets: out.targets }; })
      .flatMap(function spread({ r, targets }: { r: Rank; targets: number[] }): Rank[] {
        return targets.map((page) => ({ page, rank: r.rank / targets.length, pages: r.pages }));
      });
    // Every page gets a rank, the ones no link reaches too.
    const kept = partial.map(function zero(r: Rank): Rank { return { page: r.page, rank: 0, pages: r.pages }; });
    return sent.union(kept).groupBy('page')
      .reduce(function received(a: Rank, b: Rank): Rank { return { page: a.page, rank: a.rank + b.rank, pages: a.pages }; })
      .map(function damp(r: Rank): Rank {
        const d = params.damping;
        return { page: r.page, rank: (1 - d) / r.pages + d * r.rank, pages: r.pages };
      });
  });

  const lines = ranks.sortPartition('rank', 'desc').sortPartition('page', 'asc').setParallelism(1)
    .map(function format(r: Rank) { return `${r.page} ${r.rank}`; }).setParallelism(1);
  if (options.output) lines.writeAsText(options.output).setParallelism(1);
  else lines.print();
}
