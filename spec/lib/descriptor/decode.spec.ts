import { expect } from 'chai';
import { pack } from 'msgpackr';
import { decodeDescriptor } from '../../../lib/descriptor/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';

const descriptor = { apiVersion: 'cloudflink/v1', name: 'wc', vertices: [{ id: 'a', operator: 'sink.collect' }], edges: [] };
const utf8 = (text: string) => new TextEncoder().encode(text);

describe('decodeDescriptor', () => {
  it('decodes JSON', () => {
    expect(decodeDescriptor(utf8(JSON.stringify(descriptor)))).to.deep.equal(descriptor);
  });

  it('decodes JSON after whitespace and a byte order mark', () => {
    expect(decodeDescriptor(utf8(`\uFEFF \n\t${JSON.stringify(descriptor)}\n`))).to.deep.equal(descriptor);
  });

  it('decodes msgpack', () => {
    expect(decodeDescriptor(pack(descriptor))).to.deep.equal(descriptor);
  });

  it('gives the position of a JSON syntax error', () => {
    expect(() => decodeDescriptor(utf8('{"name": "wc",, }')))
      .to.throw(CloudflinkError, /not valid JSON: .*position 14/)
      .with.property('code', 'DESCRIPTOR_INVALID');
  });

  it('says when bytes are neither JSON nor msgpack', () => {
    expect(() => decodeDescriptor(utf8('apiVersion: cloudflink/v1')))
      .to.throw(CloudflinkError, /neither JSON \(.*first byte is 0x61\) nor valid msgpack/)
      .with.property('code', 'DESCRIPTOR_INVALID');
  });

  it('rejects an empty descriptor', () => {
    expect(() => decodeDescriptor(utf8('  \n'))).to.throw(CloudflinkError, /empty/);
    expect(() => decodeDescriptor(new Uint8Array())).to.throw(CloudflinkError, /empty/);
  });
});
