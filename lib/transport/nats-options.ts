import { readFileSync } from 'node:fs';
import { credsAuthenticator, type ConnectionOptions } from '@nats-io/nats-core';

/** How to reach NATS: what `--nats`, `CLOUDFLINK_NATS_*` and config/`nats:` describe. */
export interface NatsSettings {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** A credentials (JWT + nkey seed) file, as made by `nsc`. */
  creds?: string;
  tls?: { ca?: string; cert?: string; key?: string };
  name?: string;
}

export function toConnectionOptions(settings: NatsSettings): ConnectionOptions {
  const options: ConnectionOptions = { servers: settings.servers, name: settings.name };
  if (settings.user !== undefined) options.user = settings.user;
  if (settings.pass !== undefined) options.pass = settings.pass;
  if (settings.token !== undefined) options.token = settings.token;
  if (settings.creds) options.authenticator = credsAuthenticator(readFileSync(settings.creds));
  if (settings.tls) {
    options.tls = {};
    if (settings.tls.ca) options.tls.caFile = settings.tls.ca;
    if (settings.tls.cert) options.tls.certFile = settings.tls.cert;
    if (settings.tls.key) options.tls.keyFile = settings.tls.key;
  }
  return options;
}
