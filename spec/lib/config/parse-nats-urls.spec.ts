import { expect } from 'chai';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { parseNatsUrls } from '../../../lib/config/index.ts';

describe('parseNatsUrls', () => {
  it('splits a comma-separated list and trims each entry', () => {
    expect(parseNatsUrls(' nats://a:4222 ,nats://b:4222,, ')).to.deep.equal(['nats://a:4222', 'nats://b:4222']);
  });

  it('adds nats:// to host:port and to a bare host', () => {
    expect(parseNatsUrls('localhost:4222,10.0.0.7:4333,[::1]:4222,nats-0')).to.deep.equal([
      'nats://localhost:4222', 'nats://10.0.0.7:4333', 'nats://[::1]:4222', 'nats://nats-0',
    ]);
  });

  it('keeps tls:// and credentials in the URL', () => {
    expect(parseNatsUrls(['tls://nats.example.com:4443', 'nats://u:p@h:4222'])).to.deep.equal(['tls://nats.example.com:4443', 'nats://u:p@h:4222']);
  });

  it('splits entries of a list too', () => {
    expect(parseNatsUrls(['a:1,b:2', 'c:3'])).to.deep.equal(['nats://a:1', 'nats://b:2', 'nats://c:3']);
  });

  for (const [input, reason] of [
    ['http://a:80', /'http:\/\/a:80' has scheme 'http'; use nats:\/\/ or tls:\/\//],
    ['host:port', /'host:port' is not a URL/],
    ['a:99999', /'a:99999' is not a URL/],
    ['not a host', /'not a host' is not a URL/],
    ['nats://', /'nats:\/\/' has no valid host name/],
    ['bad!host:4222', /'bad!host:4222' has no valid host name/],
    ['nats://a:4222/path', /has a path, query or fragment/],
    [' , ', /no server given/],
  ] as const) {
    it(`rejects '${input}' with CONFIG_INVALID`, () => {
      expect(() => parseNatsUrls(input)).to.throw(CloudflinkError, reason)
        .with.property('code', 'CONFIG_INVALID');
    });
  }

  it('names every bad entry, not just the first', () => {
    expect(() => parseNatsUrls('ok:1,http://x,y:z')).to.throw(CloudflinkError, /'http:\/\/x' has scheme 'http'.*; 'y:z' is not a URL/);
  });
});
