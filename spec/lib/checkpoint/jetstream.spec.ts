import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { expect } from 'chai';
import { JetStreamCheckpointStorage, checkpointBuckets } from '../../../lib/checkpoint/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { NatsTransport } from '../../../lib/transport/index.ts';
import { startNats, type TestNats } from '../../helpers/nats.ts';
import { describeStorage, newJobId, writeCheckpoint } from './storage-suite.ts';

describe('JetStream checkpoints', () => {
  let nats: TestNats;
  let transport: NatsTransport;
  before(async () => {
    nats = await startNats({ jetstream: true });
    transport = await nats.connect();
  });
  after(async () => {
    await transport.close();
    await nats.stop();
  });

  describeStorage('JetStream', async () => {
    const storage = await JetStreamCheckpointStorage.open(transport.connection, { base: 'cf.spec' });
    const os = await new Objm(transport.connection).open(storage.buckets.state);
    return {
      storage,
      blobs: async (jobId) => (await os.list()).map((o) => o.name).filter((name) => name.startsWith(`${jobId}/`)).sort(),
      badPointers: [
        `jetstream://${storage.buckets.metadata}/no-such-job/chk-1`,
        'jetstream://CF_CHECKPOINTS_nowhere/job/chk-1',
        'jetstream://not a pointer',
      ],
    };
  });

  it('names its buckets after the cluster and points at jetstream://<kv bucket>/<jobId>/chk-<n>', async () => {
    expect(checkpointBuckets('cf.prod-1')).to.deep.equal({ state: 'CF_STATE_cf_prod-1', metadata: 'CF_CHECKPOINTS_cf_prod-1' });
    const storage = await JetStreamCheckpointStorage.open(transport.connection, { base: 'cf.names' });
    expect(storage.description).to.equal('JetStream object store CF_STATE_cf_names (metadata in KV CF_CHECKPOINTS_cf_names)');
    const jobId = newJobId();
    const checkpoint = await writeCheckpoint(storage, jobId, 3);
    const savepoint = await writeCheckpoint(storage, jobId, 4, { savepoint: true });
    expect(checkpoint.pointer).to.equal(`jetstream://CF_CHECKPOINTS_cf_names/${jobId}/chk-3`);
    expect(savepoint.pointer).to.equal(`jetstream://CF_CHECKPOINTS_cf_names/${jobId}/sp-4`);
    expect(checkpoint.metadata.vertices['map/ü x']!.handles[0]!.key).to.equal(`${jobId}/chk-3/map%2F%C3%BC%20x-0`);
  });

  it('leaves nothing behind in the streams once everything is discarded (no tombstones)', async () => {
    const storage = await JetStreamCheckpointStorage.open(transport.connection, { base: 'cf.empty' });
    const jobId = newJobId();
    await writeCheckpoint(storage, jobId, 1);
    await writeCheckpoint(storage, jobId, 2, { complete: false });
    await storage.writeState(jobId, 3, 'big', 0, new Uint8Array(1024 * 1024));
    await writeCheckpoint(storage, jobId, 4);
    await storage.retain(jobId, 1);
    await storage.discard(jobId, 3);
    await storage.discard(jobId, 4);
    const jsm = await jetstreamManager(transport.connection);
    expect((await jsm.streams.info('OBJ_CF_STATE_cf_empty')).state.messages).to.equal(0);
    expect((await jsm.streams.info('KV_CF_CHECKPOINTS_cf_empty')).state.messages).to.equal(0);
  });

  it('reads a pointer into another cluster\'s bucket on the same server', async () => {
    const other = await JetStreamCheckpointStorage.open(transport.connection, { base: 'cf.other' });
    const mine = await JetStreamCheckpointStorage.open(transport.connection, { base: 'cf.mine' });
    const { pointer, metadata } = await writeCheckpoint(other, newJobId(), 1, { savepoint: true });
    expect(await mine.readMetadata(pointer!)).to.deep.equal(metadata);
  });

  it('fails to open with a reason when the server has no JetStream', async () => {
    const plain = await startNats({ jetstream: false });
    const connection = await plain.connect();
    try {
      await expect(JetStreamCheckpointStorage.open(connection.connection, { base: 'cf.none' }))
        .to.be.rejectedWith(CloudflinkError, /CF_STATE_cf_none.*JetStream \(-js\)/s);
    } finally {
      await connection.close();
      await plain.stop();
    }
  });
});
