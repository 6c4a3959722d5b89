import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';

/** Subtask i of p takes the elements at positions i, i + p, i + 2p, … */
export function elementsSource(elements: unknown[], subtask: number, parallelism: number): OperatorLogic {
  let position = subtask;
  return {
    produce(out: Collector, max: number): boolean {
      for (let n = 0; n < max && position < elements.length; n++, position += parallelism) out.emit(elements[position]);
      return position >= elements.length;
    },
  };
}

/** Emits fn(index) (or the index) for index in [0, count), striped over subtasks like elements. */
export function generatorSource(count: number, fn: UserFn | undefined, subtask: number, parallelism: number): OperatorLogic {
  let index = subtask;
  return {
    produce(out: Collector, max: number): boolean {
      for (let n = 0; n < max && index < count; n++, index += parallelism) out.emit(fn ? fn(index) : index);
      return index >= count;
    },
  };
}

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

/**
 * Lines of a text file. Subtask i reads the byte range [i·size/p, (i+1)·size/p): a line
 * belongs to the split where it starts, so a split that starts mid-line skips to the next.
 */
export function textFileSource(path: string, subtask: number, parallelism: number): OperatorLogic {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new CloudflinkError('TASK_FAILED', `cannot read the input file ${path}: ${(error as Error).message}`, { cause: error });
  }
  const size = fstatSync(fd).size;
  const start = Math.floor((size * subtask) / parallelism);
  const end = Math.floor((size * (subtask + 1)) / parallelism);
  const chunk = Buffer.allocUnsafe(CHUNK);
  // `position` is the file offset of `pending[0]`.
  let position = start === 0 ? 0 : start - 1;
  let pending = Buffer.alloc(0);
  let skipFirst = start !== 0;
  let eof = false;
  let closed = false;

  const close = (): void => {
    if (!closed) closeSync(fd);
    closed = true;
  };

  const fill = (): void => {
    const read = readSync(fd, chunk, 0, CHUNK, position + pending.length);
    if (read === 0) eof = true;
    else pending = pending.length === 0 ? Buffer.from(chunk.subarray(0, read)) : Buffer.concat([pending, chunk.subarray(0, read)]);
  };

  return {
    produce(out: Collector, max: number): boolean {
      let emitted = 0;
      while (emitted < max) {
        if (position >= end || (eof && pending.length === 0)) {
          close();
          return true;
        }
        const newline = pending.indexOf(NEWLINE);
        if (newline < 0 && !eof) {
          fill();
          continue;
        }
        const lineEnd = newline < 0 ? pending.length : newline;
        if (skipFirst) {
          skipFirst = false;
        } else {
          let line = pending.toString('utf8', 0, lineEnd);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (newline >= 0 || line.length > 0) {
            out.emit(line);
            emitted++;
          }
        }
        const consumed = newline < 0 ? pending.length : newline + 1;
        position += consumed;
        pending = pending.subarray(consumed);
      }
      return false;
    },
    close,
  };
}
