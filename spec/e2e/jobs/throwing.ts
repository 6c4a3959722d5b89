import type { StreamExecutionEnvironment } from '../../../lib/api/index.ts';

export const jobName = 'throwing';

/** A job whose function throws on its third record. */
export default function throwing(env: StreamExecutionEnvironment): void {
  env.fromElements('1', '2', 'three', '4')
    .map(function parseAge(text: string) {
      const age = Number(text);
      if (Number.isNaN(age)) throw new Error(`not a number: '${text}'`);
      return age;
    })
    .print();
}
