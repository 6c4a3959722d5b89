import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { expect } from 'chai';
import type { CheckpointSettings } from '../../../lib/checkpoint/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { JetStreamShuffleStorage, openShuffleStorage, shuffleBucket } from '../../../lib/shuffle/index.ts';
import type { NatsTransport } from '../../../lib/transport/index.ts';
import { startNats, type TestNats } from '../../helpers/nats.ts';
import { describeShuffleStorage, frame, newJobId, partition, readAll, writeAll } from './storage-suite.ts';

describe('JetStream shuffle partitions', () => {
  let nats: TestNats;
  let transport: NatsTransport;
  let jsm: JetStreamManager;
  before(async () => {
    nats = await startNats({ jetstream: true });
    transport = await nats.connect();
    jsm = await jetstreamManager(transport.connection);
  });
  after(async () => {
    await transport.close();
    await nats.stop();
  });

  describeShuffleStorage('JetStream', async () => {
    const storage = await JetStreamShuffleStorage.open(transport.connection, { base: 'cf.spec' });
    const os: ObjectStore = await new Objm(transport.connection).open(storage.bucket);
    return {
      storage,
      stored: async (jobId) => (await os.list()).map((o) => o.name).filter((name) => name.startsWith(`${jobId}/`)).sort(),
      held: async () => (await jsm.streams.info(`OBJ_${storage.bucket}`)).state.consumer_count,
    };
  });

  it('names its bucket after the cluster and its objects <jobId>/a<attempt>/e<edge>/<from>.<execution>-<to>', async () => {
    expect(shuffleBucket('cf.prod-1')).to.equal('CF_SHUFFLE_cf_prod-1');
    expect(shuffleBucket()).to.equal('CF_SHUFFLE_cf_default');
    const storage = await JetStreamShuffleStorage.open(transport.connection, { base: 'cf.names' });
    expect(storage.description).to.equal('JetStream object store CF_SHUFFLE_cf_names');
    const jobId = newJobId();
    await writeAll(storage, partition(jobId, { attempt: 2, edgeIndex: 1, from: 0, to: 3 }), [frame(1, 1, 10)]);
    const os = await new Objm(transport.connection).open('CF_SHUFFLE_cf_names');
    expect((await os.list()).map((o) => o.name)).to.deep.equal([`${jobId}/a2/e1/0.0-3`]);
    expect((await os.info(`${jobId}/a2/e1/0.0-3`))?.size).to.equal(14);
  });

  it('leaves nothing behind in the stream once everything is discarded or aborted (no tombstones, no stray chunks)', async () => {
    const storage = await JetStreamShuffleStorage.open(transport.connection, { base: 'cf.empty' });
    const jobId = newJobId();
    await writeAll(storage, partition(jobId, { attempt: 1 }), [frame(1, 0, 400_000)]);
    await writeAll(storage, partition(jobId, { attempt: 2 }), [frame(1, 1, 400_000)]);
    await writeAll(storage, partition(jobId, { attempt: 2 }), [frame(1, 2, 400_000)]); // replaced
    const aborted = storage.writer(partition(jobId, { attempt: 2, to: 1 }));
    for (let i = 0; i < 3; i++) await aborted.write(frame(1, i, 300_000));
    await aborted.abort();
    await storage.discard(jobId, 2);
    await storage.discard(jobId);
    expect((await jsm.streams.info('OBJ_CF_SHUFFLE_cf_empty')).state.messages).to.equal(0);
  });

  it('resolves each write() as the put takes its frame, in order, not before', async () => {
    const storage = await JetStreamShuffleStorage.open(transport.connection, { base: 'cf.spec' });
    const writer = storage.writer(partition(newJobId()));
    const order: number[] = [];
    const writes = Array.from({ length: 30 }, (_, i) => writer.write(frame(2, i, 100_000)).then(() => { order.push(i); }));
    await Promise.resolve();
    expect(order).to.deep.equal([]);
    await Promise.all(writes);
    expect(order).to.deep.equal(Array.from({ length: 30 }, (_, i) => i));
    await writer.close();
  });

  it('says so when a partition is replaced while being read', async () => {
    const storage = await JetStreamShuffleStorage.open(transport.connection, { base: 'cf.spec' });
    const id = partition(newJobId());
    await writeAll(storage, id, [frame(1, 0, 400_000), frame(1, 1, 400_000), frame(1, 2, 400_000)]);
    const iterator = storage.read(id);
    expect((await iterator.next()).value).to.have.length(400_000);
    await writeAll(storage, id, [frame(2, 0, 10)]);
    const error = await iterator.next().then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(CloudflinkError);
    expect((error as CloudflinkError).code).to.equal('SHUFFLE_MISSING');
    expect((error as Error).message).to.match(/vanished from JetStream object store CF_SHUFFLE_cf_spec .*read it again/);
  });

  it('rejects close() with the bucket when the connection is gone', async () => {
    const own = await nats.connect();
    const storage = await JetStreamShuffleStorage.open(own.connection, { base: 'cf.spec' });
    const writer = storage.writer(partition(newJobId()));
    await writer.write(frame(1, 0, 10));
    await own.close();
    const error = await writer.close().then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(CloudflinkError);
    expect((error as Error).message).to.match(/cannot write shuffle partition 0->0 .* to JetStream object store CF_SHUFFLE_cf_spec/);
    await writer.abort();
  });

  it('opens the bucket when the checkpoints settings say jetstream', async () => {
    const settings: CheckpointSettings = { storage: 'jetstream', directory: '', retained: 1, replicas: 1 };
    const storage = await openShuffleStorage(settings, transport.connection, 'cf.settings');
    expect(storage.description).to.equal('JetStream object store CF_SHUFFLE_cf_settings');
    const id = partition(newJobId());
    await writeAll(storage, id, [frame(3, 3, 3)]);
    expect(await readAll(storage, id)).to.have.length(1);
  });

  it('fails to open with a reason when the server has no JetStream', async () => {
    const plain = await startNats({ jetstream: false });
    const connection = await plain.connect();
    try {
      await expect(JetStreamShuffleStorage.open(connection.connection, { base: 'cf.none' }))
        .to.be.rejectedWith(CloudflinkError, /CF_SHUFFLE_cf_none.*JetStream \(-js\)/s);
    } finally {
      await connection.close();
      await plain.stop();
    }
  });
});
