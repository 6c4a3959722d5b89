import { expect } from 'chai';
import { ActorSystem, type ActorContext, type ChildFailed, type Message } from '../../../lib/actor/index.ts';
import { AskTimeoutError, CloudflinkError, NoRespondersError } from '../../../lib/errors/index.ts';
import { silentLogger } from '../../../lib/log/index.ts';
import { encode } from '../../../lib/codec/index.ts';
import type { NatsTransport } from '../../../lib/transport/index.ts';
import { startNats, eventually, type TestNats } from '../../helpers/nats.ts';

type CounterMsg = { type: 'add'; n: number } | { type: 'get' } | { type: 'slow-add'; n: number } | { type: 'boom' };

function counter() {
  let total = 0;
  return {
    async receive(msg: CounterMsg) {
      switch (msg.type) {
        case 'add': total += msg.n; return total;
        case 'slow-add': {
          const before = total;
          await new Promise((r) => setTimeout(r, 5));
          total = before + msg.n;
          return total;
        }
        case 'get': return total;
        case 'boom': throw new CloudflinkError('UDF_FAILED', 'boom on purpose');
      }
    },
  };
}

describe('actor system', () => {
  let nats: TestNats;
  let transports: NatsTransport[] = [];
  const systems: ActorSystem[] = [];

  before(async () => { nats = await startNats({ jetstream: false }); });
  after(async () => {
    for (const s of systems) await s.shutdown();
    for (const t of transports) await t.close();
    await nats.stop();
  });

  async function newSystem(): Promise<ActorSystem> {
    const transport = await nats.connect();
    transports.push(transport);
    const system = new ActorSystem({ transport, logger: silentLogger(), defaultAskTimeoutMs: 1000 });
    systems.push(system);
    return system;
  }

  it('asks an actor in the same process without touching NATS', async () => {
    const system = await newSystem();
    const published: string[] = [];
    const original = system.transport.publish.bind(system.transport);
    system.transport.publish = (subject, data, reply) => { published.push(subject); original(subject, data, reply); };
    system.spawn('t.local.counter', counter());
    system.tell('t.local.counter', { type: 'add', n: 2 });
    expect(await system.ask<number>('t.local.counter', { type: 'add', n: 3 })).to.equal(5);
    expect(published).to.deep.equal([]);
  });

  it('asks an actor in another process over NATS', async () => {
    const a = await newSystem();
    const b = await newSystem();
    b.spawn('t.remote.counter', counter());
    await b.transport.flush();
    a.tell('t.remote.counter', { type: 'add', n: 4 });
    expect(await a.ask<number>('t.remote.counter', { type: 'add', n: 1 })).to.equal(5);
  });

  it('handles one message at a time, in order, even when handlers are async', async () => {
    const system = await newSystem();
    system.spawn('t.serial', counter());
    const replies = await Promise.all([1, 2, 3, 4, 5].map((n) => system.ask<number>('t.serial', { type: 'slow-add', n })));
    expect(replies).to.deep.equal([1, 3, 6, 10, 15]);
  });

  it('replies to an ask with the error the handler threw, and keeps serving', async () => {
    const a = await newSystem();
    const b = await newSystem();
    b.spawn('t.err', counter());
    await b.transport.flush();
    const error = await a.ask('t.err', { type: 'boom' }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(CloudflinkError).and.include({ code: 'UDF_FAILED', message: 'boom on purpose' });
    expect(await a.ask('t.err', { type: 'get' })).to.equal(0);
  });

  it('fails an ask with no listener at once, and a silent one after its timeout', async () => {
    const system = await newSystem();
    await expect(system.ask('t.nobody', { type: 'get' })).to.be.rejectedWith(NoRespondersError, /nothing listens on t.nobody/);
    system.spawn('t.silent', { receive: () => new Promise(() => undefined) });
    await expect(system.ask('t.silent', { type: 'get' }, 100)).to.be.rejectedWith(AskTimeoutError, /no reply from t.silent to 'get' within 100 ms/);
  });

  it('tells the parent when a child fails, and stops the child', async () => {
    const system = await newSystem();
    const heard: Message[] = [];
    system.spawn('t.parent', { receive: (msg: Message) => { heard.push(msg); } });
    system.spawn('t.parent.child', counter(), { parent: 't.parent' });
    system.tell('t.parent.child', { type: 'boom' });
    const failed = await eventually(() => heard.find((m): m is ChildFailed => m.type === 'actor.child-failed'), 'child-failed');
    expect(failed.child).to.equal('t.parent.child');
    expect(failed.error).to.include({ code: 'UDF_FAILED', message: 'boom on purpose' });
    expect(system.has('t.parent.child')).to.equal(false);
  });

  it('refuses a message from another protocol version with a clear error', async () => {
    const a = await newSystem();
    a.spawn('t.versioned', counter());
    await a.transport.flush();
    const client = await nats.connect();
    transports.push(client);
    const { decode } = await import('../../../lib/codec/index.ts');
    const reply = decode<{ ok: boolean; error: { code: string; message: string } }>(
      await client.request('t.versioned', encode({ v: 99, from: 'old-node', msg: { type: 'get' } }), 1000));
    expect(reply.ok).to.equal(false);
    expect(reply.error.code).to.equal('PROTOCOL_MISMATCH');
    expect(reply.error.message).to.match(/old-node speaks protocol v99/);
  });

  it('passes the sender address to the receiver', async () => {
    const system = await newSystem();
    let sender: string | undefined;
    system.spawn('t.who', { receive: (_msg: Message, ctx: ActorContext) => { sender = ctx.sender; } });
    system.spawn('t.me', { receive: (_msg: Message, ctx: ActorContext) => { ctx.tell('t.who', { type: 'hi' }); } });
    system.tell('t.me', { type: 'go' });
    await eventually(() => sender, 'sender');
    expect(sender).to.equal('t.me');
  });
});
