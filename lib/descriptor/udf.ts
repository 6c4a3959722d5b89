import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { CloudflinkError } from '../errors/index.ts';
import type { UserFunction } from './types.ts';

// esbuild/tsx (keepNames) rewrites captured functions to call `__name(fn, "name")`.
const keepNamesHelper = <T>(fn: T): T => fn;

/**
 * The source becomes the body of a strict function of (params, __name) that returns it.
 * vm.compileFunction parses a whole function body, so no text can close the wrapper early;
 * the leading newline and lineOffset keep stack positions relative to the user's text.
 */
function compile(source: string, where: string): (params: Record<string, unknown>, name: typeof keepNamesHelper) => unknown {
  const body = `'use strict'; return (\n${source}\n);`;
  return vm.compileFunction(body, ['params', '__name'], { filename: `udf:${where}`, lineOffset: -1 }) as
    (params: Record<string, unknown>, name: typeof keepNamesHelper) => unknown;
}

/** Syntax-checks a function expression without running any of it; the error message, or null. */
export function checkUserFunctionSource(source: string): string | null {
  try {
    compile(source, 'check');
    return null;
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
}

/** Turns a descriptor's user function into a callable; `where` (e.g. `/vertices/1/fn`) names it in errors. */
export async function instantiateUserFunction(
  fn: UserFunction, params: Record<string, unknown>, where: string,
): Promise<(...args: any[]) => unknown> {
  const value = typeof fn === 'string' ? evaluate(fn, params, where) : await load(fn, where);
  if (typeof value !== 'function') {
    throw new CloudflinkError('DESCRIPTOR_INVALID',
      `the user function at ${where} evaluates to ${describe(value)}, not a function; ` +
      `give the text of a function expression, e.g. "(x) => x"`);
  }
  return value as (...args: any[]) => unknown;
}

function evaluate(source: string, params: Record<string, unknown>, where: string): unknown {
  let factory: ReturnType<typeof compile>;
  try {
    factory = compile(source, where);
  } catch (error) {
    throw new CloudflinkError('DESCRIPTOR_INVALID',
      `the user function at ${where} does not compile: ${messageOf(error)}`, { cause: error });
  }
  try {
    return factory(params, keepNamesHelper);
  } catch (error) {
    throw new CloudflinkError('UDF_FAILED',
      `evaluating the user function at ${where} threw: ${messageOf(error)}`, { cause: error });
  }
}

async function load(ref: { module: string; export?: string }, where: string): Promise<unknown> {
  const exportName = ref.export ?? 'default';
  let namespace: Record<string, unknown>;
  try {
    namespace = await import(importSpecifier(ref.module)) as Record<string, unknown>;
  } catch (error) {
    throw new CloudflinkError('UDF_FAILED',
      `cannot load module '${ref.module}' for the user function at ${where}: ${messageOf(error)}; ` +
      `the module must be installed on every Task Manager host`, { cause: error });
  }
  if (!(exportName in namespace)) {
    const exported = Object.keys(namespace).join(', ') || 'nothing';
    throw new CloudflinkError('DESCRIPTOR_INVALID',
      `module '${ref.module}' has no export '${exportName}' (the user function at ${where}); it exports: ${exported}`);
  }
  return namespace[exportName];
}

// Relative paths mean the Task Manager's working directory, not this file's folder.
function importSpecifier(module: string): string {
  if (isAbsolute(module)) return pathToFileURL(module).href;
  if (module.startsWith('./') || module.startsWith('../')) return pathToFileURL(resolve(module)).href;
  return module;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value} (${typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value)})`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
