import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { CsvField, SourceCsv, SourceJsonLines } from '../../../lib/descriptor/types.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { restoreSplits, type SplitPositions } from '../../../lib/state/index.ts';
import type { SplitSource } from './sources.ts';
import type { Collector, OperatorLogic } from './types.ts';

/**
 * Sources over a file or a directory of files, read as lines: text, CSV, JSON lines.
 *
 * The input is the files' bytes end to end (a file, or the regular files of a directory by
 * name). Each file is cut into byte ranges of `rangeBytes`; the ranges are numbered across all
 * files in order, and range g belongs to split g mod splitCount. A line belongs to the range
 * its first byte is in, so the splits together read every line once. A split's position is the
 * offset in that end-to-end input from which it reads on: its next line is the first that
 * starts at or after it (the start of its next range when it finished one).
 */

/** Test and tuning knobs; a job leaves them out. */
export interface FileSourceOptions {
  /** The size of a range; by default the input over the split count, within 64 KB..4 MB. */
  rangeBytes?: number;
}

const MIN_RANGE = 64 * 1024;
const MAX_RANGE = 4 * 1024 * 1024;
const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;
const SKIP = Symbol('skip');

/** One line as read, with what an error message needs to point at it. */
interface Line {
  text: string;
  file: string;
  /** Byte offset of the line in its file; 0 for the file's first line. */
  offset: number;
  /** `file:line`, counted when asked (only errors ask: it reads the file up to the line). */
  where(): string;
}

type ToRecord = (line: Line) => unknown;

/** Lines of a file, or of every file of a directory; empty lines too, as textFileSource. */
export function directoryTextSource(path: string, source: SplitSource, vertexName: string, options: FileSourceOptions = {}): OperatorLogic {
  return lineSource(path, source, vertexName, (line) => line.text, options);
}

/** JSON lines: each non-empty line one JSON document, checked against `spec.schema` when given. */
export function jsonLinesSource(spec: SourceJsonLines, source: SplitSource, vertexName: string, options: FileSourceOptions = {}): OperatorLogic {
  const validate = spec.schema === undefined ? undefined : compileSchema(spec.schema, vertexName);
  return lineSource(spec.path, source, vertexName, (line) => {
    if (line.text.trim() === '') return SKIP;
    let record: unknown;
    try {
      record = JSON.parse(line.text);
    } catch (error) {
      throw new CloudflinkError('UDF_FAILED', `${line.where()}: not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    if (validate && !validate(record)) {
      const errors = validate.errors!.map((e) => `${e.instancePath || 'the record'} ${e.message ?? 'is invalid'}`).join('; ');
      throw new CloudflinkError('UDF_FAILED', `${line.where()}: the record does not match the schema: ${errors}`);
    }
    return record;
  }, options);
}

/**
 * CSV as RFC 4180, one record per line: an object of the declared fields, each converted to
 * its type. A quoted field may hold delimiters and doubled quotes, not line breaks.
 */
export function csvSource(spec: SourceCsv, source: SplitSource, vertexName: string, options: FileSourceOptions = {}): OperatorLogic {
  const delimiter = checkDelimiter(spec.delimiter, vertexName);
  const fields = checkFields(spec.fields, vertexName);
  const names = fields.map((f) => f.name);
  return lineSource(spec.path, source, vertexName, (line) => {
    if (spec.header && line.offset === 0) {
      if (line.text.trim() !== '') {
        const columns = parseCsvFields(line, delimiter).map((c) => c.trim());
        if (columns.length !== names.length || columns.some((c, i) => c !== names[i])) {
          throw new CloudflinkError('UDF_FAILED',
            `${line.where()}: the header names the columns ${columns.join(', ')}, but the fields declared are ${names.join(', ')}`);
        }
      }
      return SKIP;
    }
    if (line.text === '') return SKIP;
    const values = parseCsvFields(line, delimiter);
    if (values.length !== fields.length) {
      throw new CloudflinkError('UDF_FAILED', `${line.where()}: expected ${fields.length} fields (${names.join(', ')}), got ${values.length}`);
    }
    const record: Record<string, unknown> = {};
    fields.forEach((field, i) => { record[field.name] = convert(values[i]!, field, line); });
    return record;
  }, options);
}

function checkDelimiter(delimiter: string | undefined, vertexName: string): string {
  const d = delimiter ?? ',';
  if (d === '' || /["\r\n]/.test(d)) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `the CSV delimiter of '${vertexName}' must be a non-empty string without quotes or line breaks, got ${JSON.stringify(d)}`);
  }
  return d;
}

const TYPES = new Set(['string', 'number', 'integer', 'boolean']);

function checkFields(fields: CsvField[], vertexName: string): CsvField[] {
  if (!Array.isArray(fields) || fields.length === 0) throw new CloudflinkError('DESCRIPTOR_INVALID', `the CSV source '${vertexName}' declares no fields`);
  const seen = new Set<string>();
  for (const field of fields) {
    if (!TYPES.has(field.type)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `field '${field.name}' of '${vertexName}' has type ${JSON.stringify(field.type)}; use string, number, integer or boolean`);
    }
    if (seen.has(field.name)) throw new CloudflinkError('DESCRIPTOR_INVALID', `'${vertexName}' declares the field '${field.name}' twice`);
    seen.add(field.name);
  }
  return fields;
}

function convert(text: string, field: CsvField, line: Line): unknown {
  if (field.type === 'string') return text;
  const trimmed = text.trim();
  if (trimmed === '') return null;
  switch (field.type) {
    case 'number': {
      const value = Number(trimmed);
      if (!Number.isNaN(value) || trimmed === 'NaN') return value;
      break;
    }
    case 'integer': {
      const value = Number(trimmed);
      if (Number.isSafeInteger(value)) return value;
      break;
    }
    case 'boolean': {
      const lower = trimmed.toLowerCase();
      if (lower === 'true' || lower === 'false') return lower === 'true';
      break;
    }
    default: {
      const never: never = field.type;
      throw new Error(`unknown CSV type ${String(never)}`);
    }
  }
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  throw new CloudflinkError('UDF_FAILED', `${line.where()}: field '${field.name}' expects ${field.type}, got '${shown}'`);
}

const QUOTE = 0x22;

/** The fields of one line; a quoted field must close on the same line. */
function parseCsvFields(line: Line, delimiter: string): string[] {
  const result = parseCsvLine(line.text, delimiter);
  if (typeof result === 'string') throw new CloudflinkError('UDF_FAILED', `${line.where()}: ${result}`);
  return result;
}

/** RFC 4180 fields of a line, or why it is not one: a quote left open, or text after a closing quote. */
export function parseCsvLine(text: string, delimiter: string): string[] | string {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === QUOTE) {
      let value = '';
      let from = i + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote < 0) {
          return `the quoted field at column ${i + 1} is not closed by the end of the line ` +
            '(an unbalanced quote; quoted fields with line breaks inside are not supported)';
        }
        if (text.charCodeAt(quote + 1) === QUOTE) {
          value += text.slice(from, quote + 1);
          from = quote + 2;
          continue;
        }
        value += text.slice(from, quote);
        i = quote + 1;
        break;
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (!text.startsWith(delimiter, i)) {
        return `the quoted field ending at column ${i} is followed by ${JSON.stringify(text.slice(i, i + 10))}, not the delimiter`;
      }
      i += delimiter.length;
    } else {
      const next = text.indexOf(delimiter, i);
      if (next < 0) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, next));
      i = next + delimiter.length;
    }
  }
}

function compileSchema(schema: Record<string, unknown>, vertexName: string): ValidateFunction {
  const draft2020 = typeof schema.$schema === 'string' && schema.$schema.includes('2020-12');
  // No format plugin ships with us: unknown formats are ignored rather than refused.
  const options = { strict: false, logger: false as const, allErrors: false };
  try {
    return draft2020 ? new Ajv2020(options).compile(schema) : new Ajv(options).compile(schema);
  } catch (error) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `the schema of '${vertexName}' is not a valid JSON Schema: ${(error as Error).message}`, { cause: error });
  }
}

interface InputFile {
  path: string;
  size: number;
  /** Where the file starts in the files end to end. */
  base: number;
}

/** [start, end) in the files end to end, inside one file. */
interface ByteRange {
  file: number;
  start: number;
  end: number;
}

/** The file at `path`, or the regular files of the directory by name, without hidden ones ('.', '_'), as Hadoop's input formats. */
export function listInputFiles(path: string, vertexName: string): { path: string; size: number }[] {
  try {
    const stat = statSync(path);
    if (!stat.isDirectory()) return [{ path, size: stat.size }];
    const names = readdirSync(path).filter((name) => !name.startsWith('.') && !name.startsWith('_')).sort();
    return names.map((name) => ({ path: join(path, name), stat: statSync(join(path, name)) }))
      .filter((f) => f.stat.isFile())
      .map((f) => ({ path: f.path, size: f.stat.size }));
  } catch (error) {
    throw new CloudflinkError('TASK_FAILED', `cannot read the input of '${vertexName}', ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Each file in ranges of about `rangeBytes`, numbered across the files in order; empty files have none. */
function cutIntoRanges(files: InputFile[], rangeBytes: number): ByteRange[] {
  const ranges: ByteRange[] = [];
  files.forEach((file, index) => {
    const count = Math.ceil(file.size / rangeBytes);
    for (let j = 0; j < count; j++) {
      ranges.push({ file: index, start: file.base + Math.floor((file.size * j) / count), end: file.base + Math.floor((file.size * (j + 1)) / count) });
    }
  });
  return ranges;
}

function lineSource(path: string, { splits, splitCount }: SplitSource, vertexName: string, toRecord: ToRecord, options: FileSourceOptions): OperatorLogic {
  let base = 0;
  const files: InputFile[] = listInputFiles(path, vertexName).map((f) => {
    const file = { ...f, base };
    base += f.size;
    return file;
  });
  const total = base;
  const rangeBytes = Math.max(1, options.rangeBytes ?? Math.min(MAX_RANGE, Math.max(MIN_RANGE, Math.ceil(total / splitCount))));
  const ranges = cutIntoRanges(files, rangeBytes);
  const fresh = (): SplitPositions => Object.fromEntries(splits.map((s) => [s, 0]));
  let positions = fresh();
  let cursor = 0;
  let reader: { range: number; lines: RangeReader } | undefined;
  const handle = new FileHandle(vertexName);

  /** The range `split` reads on from `position` in, and where in its file; none when the split is done. */
  const locate = (split: number, position: number): { range: number; from: number } | undefined => {
    if (position >= total) return undefined;
    let range = rangeContaining(ranges, position);
    if (range % splitCount !== split) {
      range += (split - (range % splitCount) + splitCount) % splitCount;
      if (range >= ranges.length) return undefined;
      position = ranges[range]!.start;
    }
    return { range, from: position - files[ranges[range]!.file]!.base };
  };

  const close = (): void => handle.close();

  return {
    produce(out: Collector, max: number): boolean {
      let emitted = 0;
      while (emitted < max && cursor < splits.length) {
        const split = splits[cursor]!;
        if (!reader) {
          const at = locate(split, positions[split]!);
          if (!at) {
            positions[split] = total;
            cursor++;
            continue;
          }
          const file = files[ranges[at.range]!.file]!;
          reader = { range: at.range, lines: new RangeReader(handle.open(file.path), at.from, ranges[at.range]!.end - file.base) };
        }
        const file = files[ranges[reader.range]!.file]!;
        const line = reader.lines.next();
        if (line === undefined) {
          const next = reader.range + splitCount;
          positions[split] = next < ranges.length ? ranges[next]!.start : total;
          reader = undefined;
          continue;
        }
        positions[split] = file.base + reader.lines.position;
        const fd = handle.open(file.path);
        // A byte-order mark (as spreadsheets write) is not part of the first line.
        const text = line.offset === 0 && line.text.startsWith('\uFEFF') ? line.text.slice(1) : line.text;
        const record = toRecord({ text, file: file.path, offset: line.offset, where: () => `${file.path}:${lineNumberAt(fd, line.offset)}` });
        if (record === SKIP) continue;
        out.emit(record);
        emitted++;
      }
      if (cursor >= splits.length) close();
      return cursor >= splits.length;
    },
    snapshotState: () => ({ ...positions }),
    restoreState(states: unknown[]) {
      positions = { ...fresh(), ...restoreSplits(states as SplitPositions[], splits) };
      cursor = 0;
      reader = undefined;
    },
    close,
  };
}

/** The last range that starts at or before `position` (ranges cover the input without gaps). */
function rangeContaining(ranges: ByteRange[], position: number): number {
  let low = 0;
  let high = ranges.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (ranges[middle]!.start <= position) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** One open file at a time: a subtask's ranges come file after file. */
class FileHandle {
  private path: string | undefined;
  private fd = -1;

  constructor(private readonly vertexName: string) {}

  open(path: string): number {
    if (this.path === path) return this.fd;
    this.close();
    try {
      this.fd = openSync(path, 'r');
    } catch (error) {
      throw new CloudflinkError('TASK_FAILED', `cannot read the input file ${path} of '${this.vertexName}': ${(error as Error).message}`, { cause: error });
    }
    this.path = path;
    return this.fd;
  }

  close(): void {
    if (this.path !== undefined) closeSync(this.fd);
    this.path = undefined;
    this.fd = -1;
  }
}

/** 1 + the line breaks before `offset`: read only to name a line in an error. */
function lineNumberAt(fd: number, offset: number): number {
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  let line = 1;
  for (let at = 0; at < offset;) {
    const read = readSync(fd, chunk, 0, Math.min(chunk.length, offset - at), at);
    if (read === 0) break;
    for (let i = chunk.indexOf(NEWLINE, 0); i >= 0 && i < read; i = chunk.indexOf(NEWLINE, i + 1)) line++;
    at += read;
  }
  return line;
}

/**
 * The lines of one range of a file, from the first line that starts at or after `from`, to the
 * last that starts before `end`. Bytes are kept in one growing buffer, so a line of any length
 * is read in linear time.
 */
class RangeReader {
  /** File offset of the next line once a line is taken. */
  position: number;
  private buffer = Buffer.allocUnsafe(CHUNK);
  /** The unread bytes are buffer[start, filled): they begin at `position`. */
  private start = 0;
  private filled = 0;
  /** Where to look for the next line break: no break in buffer[start, scanned). */
  private scanned = 0;
  private skipFirst: boolean;
  private eof = false;

  constructor(private readonly fd: number, from: number, private readonly end: number) {
    // From the byte before: if it ends a line, the skipped "line" is empty and `from` starts one.
    this.skipFirst = from > 0;
    this.position = this.skipFirst ? from - 1 : from;
  }

  next(): { text: string; offset: number } | undefined {
    for (;;) {
      if (this.position >= this.end && !this.skipFirst) return undefined;
      if (this.eof && this.start === this.filled) {
        this.position = Math.max(this.position, this.end);
        this.skipFirst = false;
        return undefined;
      }
      const newline = this.buffer.subarray(0, this.filled).indexOf(NEWLINE, Math.max(this.start, this.scanned));
      const found = newline >= 0;
      if (!found && !this.eof) {
        this.scanned = this.filled;
        this.fill();
        continue;
      }
      const lineEnd = found ? newline : this.filled;
      const consumed = (found ? newline + 1 : this.filled) - this.start;
      const offset = this.position;
      let text = this.buffer.toString('utf8', this.start, lineEnd);
      this.position += consumed;
      this.start += consumed;
      this.scanned = this.start;
      if (this.skipFirst) {
        this.skipFirst = false;
        continue;
      }
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (found || text.length > 0) return { text, offset };
    }
  }

  private fill(): void {
    if (this.start > 0) {
      // Keep the unread bytes at the front, then grow only if they fill the buffer.
      this.buffer.copy(this.buffer, 0, this.start, this.filled);
      this.filled -= this.start;
      this.scanned -= this.start;
      this.start = 0;
    }
    if (this.buffer.length - this.filled < CHUNK) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.filled + CHUNK));
      this.buffer.copy(grown, 0, 0, this.filled);
      this.buffer = grown;
    }
    const read = readSync(this.fd, this.buffer, this.filled, CHUNK, this.position + this.filled);
    if (read === 0) this.eof = true;
    this.filled += read;
  }
}
