/**
 * TPC-H Query 3, "shipping priority", with the DataSet API: the 10 unshipped orders of
 * highest value to customers of a market segment, as of a date.
 *
 *   npx cloudflink run scripts/examples/tpch-q3.ts --embedded --wait
 *   npx cloudflink run scripts/examples/tpch-q3.ts --embedded --wait --param scale=0.1 --parallelism 2
 *   npx cloudflink run scripts/examples/tpch-q3.ts --param data=/data/tpch --param output=q3.txt --wait
 *
 * params: `data`, a directory with customer/, orders/ and lineitem/ as tpch/generate.ts
 * writes them (default: generated here at `scale`, default 0.01, into the OS temp dir, and
 * reused from there next time); `segment` (default BUILDING), `date` (default 1995-03-15);
 * `output`, one file (default: print). Lines are `orderkey|revenue|orderdate|shippriority`.
 *
 *   SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority
 *   FROM customer, orders, lineitem
 *   WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey
 *     AND o_orderdate < date '1995-03-15' AND l_shipdate > date '1995-03-15'
 *   GROUP BY l_orderkey, o_orderdate, o_shippriority
 *   ORDER BY revenue DESC, o_orderdate
 *   LIMIT 10;
 *
 * The plan is Flink's for this query: each table filtered as it is read; the small side of each
 * join (the segment's customers, then their orders) is input 2, the one a repartition-hash join
 * builds its table of; the revenue summed per order (orderdate and shippriority come with
 * the order key, so grouping by the key alone is the SQL's grouping); then one instance sorts
 * the orders and keeps the first 10.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSet, ExecutionEnvironment } from '../../lib/api/index.ts';
import { generateTpch } from './tpch/generate.ts';
import { TPCH_DELIMITER, TPCH_FIELDS, type Customer, type LineItem, type Order, type TpchTable } from './tpch/schema.ts';

export const jobName = 'tpch-q3';
export const mode = 'batch';

export interface Q3Row { l_orderkey: number; revenue: number; o_orderdate: string; o_shippriority: number }

export interface Q3Options { segment?: string; date?: string }

/** Q3 over the tables in `data`: its 10 rows, in order (at parallelism 1 from the sort on). */
export function tpchQ3(env: ExecutionEnvironment, data: string, options: Q3Options = {}): DataSet<Q3Row> {
  const q3 = { 'tpch.segment': options.segment ?? 'BUILDING', 'tpch.date': options.date ?? '1995-03-15' };
  const read = <T>(table: TpchTable) => env.readCsvFile<T>(join(data, table), { fields: TPCH_FIELDS[table], delimiter: TPCH_DELIMITER }).name(table);
  const customers = read<Customer>('customer')
    .filter(function inSegment(c: Customer) { return c.c_mktsegment === params['tpch.segment']; }).withParameters(q3);
  const orders = read<Order>('orders')
    .filter(function orderedBefore(o: Order) { return o.o_orderdate < (params['tpch.date'] as string); }).withParameters(q3);
  const lineitems = read<LineItem>('lineitem')
    .filter(function shippedAfter(l: LineItem) { return l.l_shipdate > (params['tpch.date'] as string); }).withParameters(q3);
  const segmentOrders = orders
    .join(customers, { strategy: 'repartition-hash' }).where('o_custkey').equalTo('c_custkey')
    .with(function orderOfSegment(o: Order, _c: Customer) {
      return { o_orderkey: o.o_orderkey, o_orderdate: o.o_orderdate, o_shippriority: o.o_shippriority };
    });
  return lineitems
    .join(segmentOrders, { strategy: 'repartition-hash' }).where('l_orderkey').equalTo('o_orderkey')
    .with(function revenueOfLine(l: LineItem, o: { o_orderkey: number; o_orderdate: string; o_shippriority: number }): Q3Row {
      return { l_orderkey: l.l_orderkey, revenue: l.l_extendedprice * (1 - l.l_discount), o_orderdate: o.o_orderdate, o_shippriority: o.o_shippriority };
    })
    .groupBy('l_orderkey')
    .reduce(function addRevenue(a: Q3Row, b: Q3Row) { return { ...a, revenue: a.revenue + b.revenue }; })
    .sortPartition('revenue', 'desc').sortPartition('o_orderdate', 'asc').setParallelism(1)
    .first(10);
}

/** The tables at `scale` in the OS temp dir, generated unless a previous run left them complete. */
export function tpchData(scale: number, seed = 1): string {
  const directory = join(tmpdir(), `cloudflink-tpch-sf${scale}-seed${seed}`);
  const done = join(directory, 'COMPLETE');
  if (!existsSync(done)) {
    generateTpch({ directory, scale, files: 2, seed });
    writeFileSync(done, `${new Date().toISOString()}\n`);
  }
  return directory;
}

export default function tpchQ3Job(env: ExecutionEnvironment, params: Record<string, string>): void {
  const data = params.data ?? tpchData(Number(params.scale ?? '0.01'));
  const lines = tpchQ3(env, data, { segment: params.segment, date: params.date })
    .map(function format(row: Q3Row) { return `${row.l_orderkey}|${row.revenue.toFixed(2)}|${row.o_orderdate}|${row.o_shippriority}`; })
    .setParallelism(1);
  if (params.output) lines.writeAsText(params.output).setParallelism(1);
  else lines.print();
}
