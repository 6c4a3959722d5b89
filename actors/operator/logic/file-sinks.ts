import type { SinkCsv, SinkJsonLines } from '../../../lib/descriptor/types.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { describe } from './emit.ts';
import { asLine, textFileSink } from './sinks.ts';
import type { OperatorLogic } from './types.ts';

/**
 * CSV and JSON-lines sinks: textFileSink with a format, so the same layout (the file at `path`
 * with one subtask, else `path/part-<subtask>`).
 */

/**
 * One CSV line per record (RFC 4180 quoting, '\n' line ends): the record's `fields` in order,
 * from an object by name or from an array by position. With `header`, each file starts with
 * the field names, so a directory of parts reads back with a header per file.
 */
export function csvSink(spec: SinkCsv, subtask: number, parallelism: number, vertexName: string): OperatorLogic {
  const delimiter = spec.delimiter ?? ',';
  if (delimiter === '' || /["\r\n]/.test(delimiter)) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `the CSV delimiter of '${vertexName}' must be a non-empty string without quotes or line breaks, got ${JSON.stringify(delimiter)}`);
  }
  if (!Array.isArray(spec.fields) || spec.fields.length === 0) throw new CloudflinkError('DESCRIPTOR_INVALID', `the CSV sink '${vertexName}' names no fields`);
  const { fields } = spec;
  const lines = textFileSink(spec.path, subtask, parallelism);
  const row = (values: unknown[]): string => values.map((v) => csvField(v, delimiter)).join(delimiter);
  if (spec.header) lines.process!(row(fields), { emit: () => {} });
  return {
    ...lines,
    process(record, out, input, timestamp) {
      let values: unknown[];
      if (Array.isArray(record)) values = fields.map((_, i) => record[i]);
      else if (typeof record === 'object' && record !== null) values = fields.map((name) => (record as Record<string, unknown>)[name]);
      else throw new CloudflinkError('UDF_FAILED', `the CSV sink '${vertexName}' needs records that are objects or arrays, got ${describe(record)}`);
      lines.process!(row(values), out, input, timestamp);
    },
  };
}

/** One JSON document per line; a string record is written as a JSON string, undefined as null. */
export function jsonLinesSink(spec: SinkJsonLines, subtask: number, parallelism: number, _vertexName: string): OperatorLogic {
  const lines = textFileSink(spec.path, subtask, parallelism);
  return {
    ...lines,
    process(record, out, input, timestamp) {
      lines.process!(typeof record === 'string' ? JSON.stringify(record) : record === undefined ? 'null' : asLine(record), out, input, timestamp);
    },
  };
}

/** null and undefined as an empty field; numbers and booleans as text; objects as JSON; quoted when the text needs it. */
export function csvField(value: unknown, delimiter: string): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? asLine(value) : String(value);
  // With a delimiter of several characters, the end of a text can start one too early ('a|' before '||').
  const clashes = (text + delimiter).indexOf(delimiter) !== text.length;
  return clashes || /["\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
