/** The benchmark's table on the terminal and the same numbers as JSON in a file. */
import { writeFileSync } from 'node:fs';

export interface ThroughputRow {
  name: string;
  words: number;
  /** What words/s is computed from: the loop for in-process rows, the job's own duration for cloudflink. */
  seconds: number;
  /** Around the whole call as the caller sees it (for cloudflink: execute() → result()). */
  wallSeconds: number;
  wordsPerSecond: number;
  /** words/s divided by the baseline's words/s. */
  vsPlain: number;
  /** Against the idiomatic RxJS pipeline (groupBy) and against RxJS with the keyed state in one scan over a Map. */
  vsRxjs: number;
  vsRxjsScan: number;
  /** Median round trip of the tiny job for the same system, in milliseconds. */
  roundTripMs: number;
  /** 'ok' when every word's final count equals the plain loop's, else what differed. */
  verified: string;
  /** CPU seconds per process during the job (cloudflink rows, on Linux). */
  cpuSeconds?: Record<string, number>;
  /** Checkpoints completed during the job (cloudflink rows). */
  checkpoints?: number;
}

export interface BenchReport {
  benchmark: string;
  startedAt: string;
  machine: { cpus: number; node: string; platform: string; loadAverage: number };
  params: Record<string, unknown>;
  rows: ThroughputRow[];
  notes: string[];
}

const COLUMNS: { title: string; cell(row: ThroughputRow): string }[] = [
  { title: 'name', cell: (r) => r.name },
  { title: 'words', cell: (r) => r.words.toLocaleString('en-US') },
  { title: 'seconds', cell: (r) => r.seconds.toFixed(3) },
  { title: 'wall s', cell: (r) => r.wallSeconds.toFixed(3) },
  { title: 'words/s', cell: (r) => Math.round(r.wordsPerSecond).toLocaleString('en-US') },
  { title: '× plain', cell: (r) => ratio(r.vsPlain) },
  { title: '× RxJS groupBy', cell: (r) => ratio(r.vsRxjs) },
  { title: '× RxJS scan', cell: (r) => ratio(r.vsRxjsScan) },
  { title: 'round trip ms', cell: (r) => roundTrip(r.roundTripMs) },
  { title: 'counts', cell: (r) => r.verified },
];

const LEGEND = [
  'seconds: in-process rows time their loop, file read included; cloudflink rows use the job\'s durationMs, submission → FINISHED.',
  'wall s: the same for in-process rows; for cloudflink, execute() → result() in this client.',
  '× plain, × RxJS groupBy, × RxJS scan: words/s against the plain loop\'s and the two RxJS pipelines\'.',
  'cloudflink rows: exactly-once checkpoints every second; chained p=1 runs in one Task Manager (source+tokenize → sum+format+sink),',
  '  keyed p=2 runs one subtask on each of 2 Task Managers, the keyBy exchange over NATS.',
  'round trip ms: median of 10 runs of 10 records → map → collect. For cloudflink this is the job round trip,',
  '  submit → FINISHED as the client sees it (scheduling, deployment, teardown), not per-record latency.',
  'counts: every word\'s final rolling count equals the plain loop\'s, and one rolling count came out per word in.',
  '  The discard row writes no counts: "records ok" says its sum and sink took one record per word.',
];

export function formatReport(report: BenchReport): string {
  const { machine, params, rows } = report;
  const words = rows[0]?.words.toLocaleString('en-US') ?? '?';
  const header = `WordCount, ${String(params.mb)} MB (${words} words), ${machine.cpus} cores, node ${machine.node}, ` +
    `load average ${machine.loadAverage.toFixed(1)} at the start`;
  return ['', header, '',
    formatTable(rows), '', ...LEGEND, ...report.notes, ''].join('\n');
}

/** Text columns left-aligned, numbers right-aligned. */
export function formatTable(rows: ThroughputRow[]): string {
  return formatColumns(COLUMNS, rows, new Set([0, COLUMNS.length - 1]));
}

/** Any rows under any columns; the columns in `leftAligned` (indexes) hold text, the others numbers. */
export function formatColumns<Row>(columns: { title: string; cell(row: Row): string }[], rows: Row[], leftAligned: Set<number>): string {
  const cells = rows.map((row) => columns.map((c) => c.cell(row)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]): string =>
    values.map((v, i) => (leftAligned.has(i) ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function writeJson(path: string, report: object): void {
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

function ratio(r: number): string {
  return r >= 0.1 ? r.toFixed(2) : r.toPrecision(2);
}

function roundTrip(ms: number): string {
  return ms >= 1 ? ms.toFixed(1) : ms.toPrecision(2);
}
