/**
 * Captures a user function as source text for the descriptor. Only the text travels:
 * closures over outer variables are not shipped, values go through `params`.
 */
import type { UserFunction } from '../descriptor/types.ts';
import { CloudflinkError } from '../errors/index.ts';

/** A function exported by a module installed on the Task Manager hosts, instead of shipped source. */
export interface FunctionRef { module: string; export?: string }

export interface CapturedFunction {
  fn: UserFunction;
  /** The function's own name, when it has a meaningful one; the API uses it as the vertex name. */
  name?: string;
}

/** `role` names the call in errors, e.g. `map()`. */
export function captureFunction(fn: unknown, role: string): CapturedFunction {
  if (isFunctionRef(fn)) {
    const ref: FunctionRef = fn.export === undefined ? { module: fn.module } : { module: fn.module, export: fn.export };
    return { fn: ref, name: fn.export };
  }
  if (typeof fn !== 'function') {
    throw new CloudflinkError('DESCRIPTOR_INVALID',
      `${role} expects a function (or { module, export } of a module installed on the Task Manager hosts), got ${describe(fn)}`);
  }
  return { fn: functionSource(fn, role), name: meaningfulName(fn) };
}

/** Source text that evaluates, as `(text)` with `params` in scope, to a function equivalent to `fn`. */
export function functionSource(fn: Function, role: string): string {
  const text = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(text)) throw notShippable(role, 'a native or bound function');
  if (isClass(fn, text)) throw notShippable(role, 'a class');
  const problem = syntaxError(text);
  const source = problem === null ? text : methodAsFunction(text);
  if (source === undefined) {
    throw new CloudflinkError('DESCRIPTOR_INVALID',
      `${role}: the source text of the function does not compile on its own as strict code (${problem}), so it cannot be shipped; ` +
      `pass an arrow function or a function expression, and pass outer values through params`,
      { data: { source: text } });
  }
  return withHelperShims(source);
}

export function isFunctionRef(value: unknown): value is FunctionRef {
  if (typeof value !== 'object' || value === null) return false;
  const ref = value as Record<string, unknown>;
  return typeof ref.module === 'string' && ref.module !== '' && (ref.export === undefined || typeof ref.export === 'string');
}

function meaningfulName(fn: Function): string | undefined {
  const name = fn.name;
  return name === '' || name === 'anonymous' ? undefined : name;
}

function isClass(fn: Function, text: string): boolean {
  // A class's prototype is read-only; a function's (generators included) is writable.
  return Object.getOwnPropertyDescriptor(fn, 'prototype')?.writable === false || /^class[\s{]/.test(text);
}

function notShippable(role: string, what: string): CloudflinkError {
  return new CloudflinkError('DESCRIPTOR_INVALID',
    `${role}: cannot ship ${what}, because its source text is not available as a function. ` +
    `Pass an arrow function or a function expression instead (e.g. (value) => ...), ` +
    `and pass outer values through params (closures over outer variables are not shipped)`);
}

// Task Managers compile user functions as strict code, so the check here is strict too.
/** Why `(text)` does not parse as a strict expression, or null when it does; compiling runs nothing. */
function syntaxError(text: string): string | null {
  try {
    new Function('params', `'use strict'; return (${text})`);
    return null;
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
}

function compiles(text: string): boolean {
  return syntaxError(text) === null;
}

const IDENTIFIER_METHOD = /^(?:(async)(?:\s+|(?=\*)))?\s*(\*)?\s*([\p{ID_Start}$_][\p{ID_Continue}$\u200C\u200D]*)\s*\(/u;
const MODIFIERS = /^(?:(async)(?:\s+|(?=[*[\d'"])))?\s*(\*)?/;

/** Method-shorthand text (`parse(x) {…}`, `async *gen() {…}`) as a function expression. */
function methodAsFunction(text: string): string | undefined {
  const named = IDENTIFIER_METHOD.exec(text);
  if (named) {
    const keyword = `${named[1] ? 'async ' : ''}function${named[2] ? '*' : ''} `;
    const rest = text.slice(named[0].length - 1);
    // A reserved word (`delete(x) {…}`) is a fine method name but not a function name.
    for (const candidate of [keyword + named[3] + rest, keyword + rest]) {
      if (compiles(candidate)) return candidate;
    }
  }
  // Computed, quoted or numeric names (`['a(b)'](x) {…}`), accessors: the parameters start at the first '(' that compiles.
  const modifiers = MODIFIERS.exec(text)!;
  const keyword = `${modifiers[1] ? 'async ' : ''}function${modifiers[2] ? '*' : ''} `;
  for (let i = text.indexOf('(', modifiers[0].length); i !== -1; i = text.indexOf('(', i + 1)) {
    const candidate = keyword + text.slice(i);
    if (compiles(candidate)) return candidate;
  }
  return undefined;
}

// tsx/esbuild (keepNames) insert `__name(fn, "name")` calls inside function bodies; the helper does not travel with the text.
function withHelperShims(source: string): string {
  if (!/(?<![\w$.])__name\s*\(/.test(source)) return source;
  return `((__name) => (${source}))((target, value) => Object.defineProperty(target, 'name', { value, configurable: true }))`;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}
