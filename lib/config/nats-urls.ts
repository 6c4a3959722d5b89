import { CloudflinkError } from '../errors/index.ts';

// transport-node speaks plain TCP and TLS only; a ws:// URL would fail later and obscurely.
const SCHEMES = new Set(['nats:', 'tls:']);
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])$/;

/**
 * `"a:4222, nats://b:4222"` or a list of such strings → `['nats://a:4222', 'nats://b:4222']`.
 * Throws CONFIG_INVALID naming every entry that is not a NATS server URL.
 */
export function parseNatsUrls(value: string | string[]): string[] {
  const { urls, problems } = checkNatsUrls(value);
  if (problems.length > 0) {
    throw new CloudflinkError('CONFIG_INVALID', `invalid NATS server list: ${problems.join('; ')}`, { data: { problems } });
  }
  return urls;
}

/** parseNatsUrls without the throw, so loadConfig can report these problems alongside the others. */
export function checkNatsUrls(value: string | string[]): { urls: string[]; problems: string[] } {
  const entries = (Array.isArray(value) ? value : [value])
    .flatMap((item) => String(item).split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (entries.length === 0) {
    return { urls: [], problems: ['no server given; expected e.g. nats://127.0.0.1:4222 or host:4222'] };
  }
  const urls: string[] = [];
  const problems: string[] = [];
  for (const entry of entries) {
    const problem = checkOne(entry);
    if (problem === undefined) urls.push(withScheme(entry));
    else problems.push(`'${entry}' ${problem}`);
  }
  return { urls, problems };
}

function withScheme(entry: string): string {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(entry) ? entry : `nats://${entry}`;
}

function checkOne(entry: string): string | undefined {
  let url: URL;
  try {
    url = new URL(withScheme(entry));
  } catch {
    return 'is not a URL; expected nats://host:port, tls://host:port or host:port';
  }
  if (!SCHEMES.has(url.protocol)) return `has scheme '${url.protocol.slice(0, -1)}'; use nats:// or tls://`;
  if (url.hostname === '' || !HOST.test(url.hostname)) return 'has no valid host name';
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    return 'has a path, query or fragment; a server URL is only scheme://host:port';
  }
  return undefined;
}
