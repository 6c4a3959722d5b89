/** For specs of the API: what it builds, as the Job Manager receives it. */
import { expect } from 'chai';
import type { StreamExecutionEnvironment } from '../../lib/api/index.ts';
import { validateDescriptor, type EdgeDescriptor, type JobDescriptor, type VertexDescriptor } from '../../lib/descriptor/index.ts';
import { CloudflinkError } from '../../lib/errors/index.ts';

/** A function's source text, compiled as a Task Manager does (with empty params). */
export function revive(source: unknown): (...args: any[]) => any {
  return new Function('params', 'return (' + (source as string) + ')')({});
}

export function graph(env: StreamExecutionEnvironment): { vertices: VertexDescriptor[]; edges: EdgeDescriptor[] } {
  const { vertices, edges } = env.getDescriptor();
  return { vertices, edges };
}

/** The descriptor as the Job Manager receives it: through JSON, then validated. */
export function expectValid(descriptor: JobDescriptor): void {
  const result = validateDescriptor(JSON.parse(JSON.stringify(descriptor)));
  if (!result.ok) expect.fail(JSON.stringify(result.issues, null, 2));
}

export function issuesOf(descriptor: JobDescriptor): { path: string; message: string }[] {
  const result = validateDescriptor(JSON.parse(JSON.stringify(descriptor)));
  return result.ok ? [] : result.issues;
}

export const vertexById = (env: StreamExecutionEnvironment, id: string) =>
  graph(env).vertices.find((v) => v.id === id) as VertexDescriptor & Record<string, unknown>;
export const edgesInto = (env: StreamExecutionEnvironment, id: string) => graph(env).edges.filter((e) => e.to === id);

/** `fn` throws a DESCRIPTOR_INVALID error whose message matches. */
export function expectInvalid(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(CloudflinkError);
    expect((error as CloudflinkError).code).to.equal('DESCRIPTOR_INVALID');
    expect((error as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected a DESCRIPTOR_INVALID error matching ${message}`);
}
