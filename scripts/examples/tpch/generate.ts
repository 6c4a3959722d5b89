/**
 * A deterministic generator of TPC-H-like customer, orders and lineitem tables, with dbgen's
 * cardinalities (per scale factor: 150 000 customers, 1 500 000 orders, 1 to 7 lineitems per
 * order, about 6 M) and key relationships: order keys are sparse (8 used of each 32), an
 * order's customer is never a multiple of 3 (so a third of customers have no orders), a
 * lineitem ships 1 to 121 days after its order, and its price is its part's retail price ×
 * quantity. Text columns are shorter random words than dbgen's, and the numbers come from a
 * seeded PRNG rather than dbgen's streams: the same (scale, files, seed) gives the same bytes.
 *
 *   node --import tsx scripts/examples/tpch/generate.ts --out /tmp/tpch --scale 0.1 [--files 2] [--seed 1]
 *
 * Writes <out>/customer/, <out>/orders/ and <out>/lineitem/, each with `files` part files
 * (part-0.tbl …), '|'-separated, in schema.ts's columns. A part file of orders and the one of
 * lineitem with the same number hold the same orders.
 */
import { prng } from '../../../lib/random/index.ts';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MARKET_SEGMENTS, TPCH_DELIMITER, type TpchTable } from './schema.ts';

export interface TpchOptions {
  directory: string;
  /** TPC-H's scale factor: 1 is about 1 GB of dbgen's text (ours is smaller: shorter comments). */
  scale: number;
  /** Part files per table; default 1. */
  files?: number;
  seed?: number;
}

export interface TpchCounts { customer: number; orders: number; lineitem: number; bytes: number }

const PRIORITIES = ['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'];
const INSTRUCTIONS = ['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'];
const MODES = ['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'];
const WORDS = ('furiously special foxes sleep quickly final deposits haggle carefully regular requests wake slyly ironic ' +
  'accounts nag blithely pending packages boost bold instructions use express theodolites detect even pinto beans').split(' ');

const DAY_MS = 86_400_000;
const START = Date.UTC(1992, 0, 1);
// dbgen's CURRENTDATE: lineitems received by then are returned (R) or accepted (A), those shipped after it are open (O).
const CURRENT_DAY = (Date.UTC(1995, 5, 17) - START) / DAY_MS;
// Orders from STARTDATE to ENDDATE − 151 days, so that every lineitem ships, and is received, by ENDDATE (1998-12-31).
const ORDER_DAYS = (Date.UTC(1998, 11, 31) - START) / DAY_MS - 151 + 1;
const DATES = Array.from({ length: ORDER_DAYS + 200 }, (_, day) => new Date(START + day * DAY_MS).toISOString().slice(0, 10));


/** The table's cardinalities at `scale` (at least one of each). */
export function tpchSizes(scale: number): { customers: number; orders: number; parts: number; suppliers: number; clerks: number } {
  const at = (perUnit: number) => Math.max(1, Math.round(perUnit * scale));
  return { customers: at(150_000), orders: at(1_500_000), parts: at(200_000), suppliers: at(10_000), clerks: at(1000) };
}

/** dbgen's sparse order keys: of each 32 consecutive keys, the first 8 are used. */
export function orderKey(index: number): number {
  return Math.floor(index / 8) * 32 + (index % 8) + 1;
}

/** dbgen's P_RETAILPRICE, in cents. */
function retailCents(partkey: number): number {
  return 90_000 + (Math.floor(partkey / 10) % 20_001) + 100 * (partkey % 1000);
}

export function generateTpch(options: TpchOptions): TpchCounts {
  const { directory, scale, files = 1, seed = 1 } = options;
  if (!(scale > 0)) throw new Error(`the scale factor must be above 0, got ${scale}`);
  if (!Number.isInteger(files) || files < 1) throw new Error(`files must be a whole number, at least 1, got ${files}`);
  const sizes = tpchSizes(scale);
  const counts: TpchCounts = { customer: 0, orders: 0, lineitem: 0, bytes: 0 };
  for (const table of ['customer', 'orders', 'lineitem'] as const) mkdirSync(join(directory, table), { recursive: true });
  for (let part = 0; part < files; part++) {
    const customers = writer(directory, 'customer', part, counts);
    writeCustomers(customers, share(sizes.customers, files, part), prng(seed * 1_000_003 + part * 2));
    customers.close();
    const orders = writer(directory, 'orders', part, counts);
    const lineitems = writer(directory, 'lineitem', part, counts);
    writeOrders(orders, lineitems, share(sizes.orders, files, part), sizes, prng(seed * 1_000_003 + part * 2 + 1));
    orders.close();
    lineitems.close();
  }
  return counts;
}

/** Part `part` of `n` rows split in `files`: its first index and its end. */
function share(n: number, files: number, part: number): [number, number] {
  return [Math.floor((n * part) / files), Math.floor((n * (part + 1)) / files)];
}

interface Writer { line(fields: (string | number)[]): void; close(): void }

/** Lines buffered into ~1 MB writes. */
function writer(directory: string, table: TpchTable, part: number, counts: TpchCounts): Writer {
  const fd = openSync(join(directory, table, `part-${part}.tbl`), 'w');
  let buffer: string[] = [];
  let size = 0;
  const flush = () => {
    const bytes = Buffer.from(buffer.join(''));
    writeSync(fd, bytes);
    counts.bytes += bytes.length;
    buffer = [];
    size = 0;
  };
  return {
    line(fields) {
      const text = `${fields.join(TPCH_DELIMITER)}\n`;
      buffer.push(text);
      size += text.length;
      counts[table]++;
      if (size > 1 << 20) flush();
    },
    close() {
      flush();
      closeSync(fd);
    },
  };
}

function writeCustomers(out: Writer, [from, to]: [number, number], random: () => number): void {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  for (let i = from; i < to; i++) {
    const custkey = i + 1;
    const nation = int(0, 24);
    out.line([
      custkey, `Customer#${String(custkey).padStart(9, '0')}`, text(random, 10, 40), nation,
      `${nation + 10}-${int(100, 999)}-${int(100, 999)}-${int(1000, 9999)}`, cents(int(-99_999, 999_999)),
      MARKET_SEGMENTS[int(0, MARKET_SEGMENTS.length - 1)]!, text(random, 29, 116),
    ]);
  }
}

function writeOrders(orders: Writer, lineitems: Writer, [from, to]: [number, number], sizes: ReturnType<typeof tpchSizes>, random: () => number): void {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  for (let i = from; i < to; i++) {
    const orderkey = orderKey(i);
    // Customers whose key is a multiple of 3 place no orders, as in dbgen.
    let custkey = int(1, sizes.customers);
    if (custkey % 3 === 0) custkey = custkey === sizes.customers ? custkey - 1 : custkey + 1;
    const orderDay = int(0, ORDER_DAYS - 1);
    const lines = int(1, 7);
    let totalCents = 0;
    let shipped = 0;
    for (let line = 1; line <= lines; line++) {
      const partkey = int(1, sizes.parts);
      const quantity = int(1, 50);
      const priceCents = quantity * retailCents(partkey);
      const discount = int(0, 10);
      const tax = int(0, 8);
      const shipDay = orderDay + int(1, 121);
      const receiptDay = shipDay + int(1, 30);
      totalCents += Math.round((priceCents * (100 + tax) * (100 - discount)) / 10_000);
      if (shipDay <= CURRENT_DAY) shipped++;
      lineitems.line([
        orderkey, partkey, int(1, sizes.suppliers), line, quantity, cents(priceCents), cents(discount), cents(tax),
        receiptDay <= CURRENT_DAY ? (random() < 0.5 ? 'R' : 'A') : 'N', shipDay > CURRENT_DAY ? 'O' : 'F',
        DATES[shipDay]!, DATES[orderDay + int(30, 90)]!, DATES[receiptDay]!,
        INSTRUCTIONS[int(0, INSTRUCTIONS.length - 1)]!, MODES[int(0, MODES.length - 1)]!, text(random, 10, 43),
      ]);
    }
    const status = shipped === lines ? 'F' : shipped === 0 ? 'O' : 'P';
    orders.line([
      orderkey, custkey, status, cents(totalCents), DATES[orderDay]!, PRIORITIES[int(0, PRIORITIES.length - 1)]!,
      `Clerk#${String(int(1, sizes.clerks)).padStart(9, '0')}`, 0, text(random, 19, 78),
    ]);
  }
}

function cents(value: number): string {
  return (value / 100).toFixed(2);
}

/** Random words, between `min` and `max` characters. */
function text(random: () => number, min: number, max: number): string {
  const length = min + Math.floor(random() * (max - min + 1));
  let out = WORDS[Math.floor(random() * WORDS.length)]!;
  while (out.length < length) out += ` ${WORDS[Math.floor(random() * WORDS.length)]!}`;
  return out.slice(0, length).trimEnd();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { out: { type: 'string' }, scale: { type: 'string', default: '0.01' }, files: { type: 'string', default: '1' }, seed: { type: 'string', default: '1' } } });
  if (!values.out) {
    process.stderr.write('usage: node --import tsx scripts/examples/tpch/generate.ts --out DIR [--scale 0.01] [--files 1] [--seed 1]\n');
    process.exit(2);
  }
  const started = performance.now();
  const counts = generateTpch({ directory: values.out, scale: Number(values.scale), files: Number(values.files), seed: Number(values.seed) });
  process.stdout.write(`${values.out}: ${counts.customer} customers, ${counts.orders} orders, ${counts.lineitem} lineitems, ` +
    `${(counts.bytes / 1024 / 1024).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
