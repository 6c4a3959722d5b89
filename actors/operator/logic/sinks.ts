import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encode } from '../../../lib/codec/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { OperatorLogic } from './types.ts';

export function asLine(record: unknown): string {
  if (typeof record === 'string') return record;
  try {
    return JSON.stringify(record);
  } catch {
    // Only BigInt makes JSON.stringify throw here; a replacer on every record would cost 3×.
    return JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
}

export function discardSink(): OperatorLogic {
  return { process: () => {} };
}

/** Flink's print sink: `<subtask>> record` when there are several subtasks. */
export function printSink(prefix: string | undefined, subtask: number, parallelism: number): OperatorLogic {
  const label = [prefix, parallelism > 1 ? `${subtask + 1}>` : undefined].filter(Boolean).join(' ');
  const lead = label ? `${label} ` : '';
  return { process: (record) => { process.stdout.write(`${lead}${asLine(record)}\n`); } };
}

const WRITE_BATCH = 4096;

/** One line per record: the file at `path` with one subtask, else `path/part-<subtask>`. */
export function textFileSink(path: string, subtask: number, parallelism: number): OperatorLogic {
  const file = parallelism === 1 ? path : join(path, `part-${subtask}`);
  let fd: number;
  try {
    mkdirSync(dirname(file), { recursive: true });
    fd = openSync(file, 'w');
  } catch (error) {
    throw new CloudflinkError('TASK_FAILED', `cannot write the output file ${file}: ${(error as Error).message}`, { cause: error });
  }
  let lines: string[] = [];
  let open = true;
  const write = (): void => {
    if (lines.length === 0) return;
    writeSync(fd, `${lines.join('\n')}\n`);
    lines = [];
  };
  return {
    process(record) {
      lines.push(asLine(record));
      if (lines.length >= WRITE_BATCH) write();
    },
    finish: write,
    close() {
      if (!open) return;
      open = false;
      write();
      closeSync(fd);
    },
  };
}

/**
 * What one collect subtask's records may weigh: they travel to the Job Manager in one NATS
 * message (1 MB by default), with room to spare for the rest of it.
 */
export const COLLECT_MAX_BYTES = 960 * 1024;

export function collectSink(limit: number, vertexName: string, maxBytes = COLLECT_MAX_BYTES): OperatorLogic {
  const records: unknown[] = [];
  let bytes = 0;
  return {
    process(record) {
      if (records.length >= limit) {
        throw new CloudflinkError('UDF_FAILED',
          `'${vertexName}' collected more than ${limit} records, the limit (jobManager.collectLimit); write large results to a file instead`);
      }
      bytes += encode(record).length;
      if (bytes > maxBytes) {
        throw new CloudflinkError('UDF_FAILED',
          `'${vertexName}' collected more than ${Math.floor(maxBytes / 1024)} KB in this subtask, what its records can carry ` +
          'back in one NATS message; write large results to a file instead');
      }
      records.push(record);
    },
    collected: () => records,
  };
}
