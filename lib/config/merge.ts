/** One source of configuration, lowest precedence first when layered. */
export interface Layer {
  /** Where these values come from, as a user would look for it: a file path, 'flags'. */
  label: string;
  values: unknown;
  /** Finer labels for some paths (the environment names a variable per key). */
  sources?: ReadonlyMap<string, string>;
}

export interface Merged {
  values: Record<string, unknown>;
  /** Every path that some layer set → the label of the last layer that set it. */
  sources: Map<string, string>;
}

/** Deep-merges objects key by key; arrays and scalars replace; undefined and null leave the lower layer's value. */
export function mergeLayers(layers: readonly Layer[]): Merged {
  const merged: Merged = { values: {}, sources: new Map() };
  for (const layer of layers) {
    merged.values = mergeValue(merged.values, layer.values) as Record<string, unknown>;
    recordSources(layer, layer.values, '', merged.sources);
  }
  return merged;
}

/** The label for a problem at `path`: that key, else the nearest ancestor, else any descendant that was set. */
export function sourceOf(sources: ReadonlyMap<string, string>, path: string): string | undefined {
  for (let at = path; at !== ''; at = parentPath(at)) {
    const label = sources.get(at);
    if (label !== undefined) return label;
  }
  let found: string | undefined;
  for (const [key, label] of sources) {
    if (key.startsWith(`${path}.`) || key.startsWith(`${path}[`)) found = label;
  }
  return found;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

export function joinPath(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`;
}

function mergeValue(lower: unknown, upper: unknown): unknown {
  if (upper === undefined || upper === null) return lower;
  if (!isPlainObject(upper)) return Array.isArray(upper) ? [...upper] : upper;
  const out: Record<string, unknown> = {};
  if (isPlainObject(lower)) for (const [key, value] of Object.entries(lower)) define(out, key, value);
  for (const [key, value] of Object.entries(upper)) define(out, key, mergeValue(out[key], value));
  return out;
}

// defineProperty, so a `__proto__:` key in a YAML file stays a (reported) unknown key instead of a prototype.
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined) return;
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function recordSources(layer: Layer, value: unknown, path: string, sources: Map<string, string>): void {
  if (value === undefined || value === null) return;
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) recordSources(layer, child, joinPath(path, key), sources);
    return;
  }
  if (path === '') return;
  // Delete first so iteration order is recency, which sourceOf's descendant search relies on.
  sources.delete(path);
  sources.set(path, layer.sources?.get(path) ?? layer.label);
}

function parentPath(path: string): string {
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return cut < 0 ? '' : path.slice(0, cut);
}
