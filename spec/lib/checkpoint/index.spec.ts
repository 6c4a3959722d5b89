import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  DirectoryCheckpointStorage, JetStreamCheckpointStorage, checkpointDirectory, openCheckpointStorage, readMetadataAt,
  type CheckpointSettings,
} from '../../../lib/checkpoint/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { NatsTransport } from '../../../lib/transport/index.ts';
import { startNats, type TestNats } from '../../helpers/nats.ts';
import { newJobId, writeCheckpoint } from './storage-suite.ts';

const settings = (over: Partial<CheckpointSettings>): CheckpointSettings => ({ storage: 'directory', directory: '', retained: 3, replicas: 1, ...over });

describe('checkpoint storage selection', () => {
  let nats: TestNats;
  let transport: NatsTransport;
  let root: string;
  before(async () => {
    nats = await startNats({ jetstream: true });
    transport = await nats.connect();
    root = mkdtempSync(join(tmpdir(), 'cloudflink-checkpoints-spec-'));
  });
  after(async () => {
    rmSync(root, { recursive: true, force: true });
    await transport.close();
    await nats.stop();
  });

  it('defaults the directory to <tmpdir>/cloudflink-checkpoints/<prefix>.<id>', () => {
    expect(checkpointDirectory({ cluster: { prefix: 'cf', id: 'dev' }, checkpoints: { directory: '' } }))
      .to.equal(join(tmpdir(), 'cloudflink-checkpoints', 'cf.dev'));
    expect(checkpointDirectory({ cluster: { prefix: 'cf', id: 'dev' }, checkpoints: { directory: '/var/cf' } })).to.equal('/var/cf');
  });

  it('opens the storage the settings name', async () => {
    const directory = await openCheckpointStorage(settings({ directory: root }));
    expect(directory).to.be.instanceOf(DirectoryCheckpointStorage);
    expect(directory.description).to.equal(`directory ${root}`);
    const byDefault = await openCheckpointStorage(settings({}), undefined, 'cf.default-dir');
    expect(byDefault.description).to.equal(`directory ${join(tmpdir(), 'cloudflink-checkpoints', 'cf.default-dir')}`);
    const jetstream = await openCheckpointStorage(settings({ storage: 'jetstream' }), transport.connection, 'cf.select');
    expect(jetstream).to.be.instanceOf(JetStreamCheckpointStorage);
    expect(jetstream.description).to.include('CF_STATE_cf_select');
    await expect(openCheckpointStorage(settings({ storage: 'jetstream' }))).to.be.rejectedWith(CloudflinkError, /needs a NATS connection/);
  });

  it('reads metadata at a pointer of either kind', async () => {
    const directory = await openCheckpointStorage(settings({ directory: root }));
    const jetstream = await openCheckpointStorage(settings({ storage: 'jetstream' }), transport.connection, 'cf.select');
    const onDisk = await writeCheckpoint(directory, newJobId(), 1, { savepoint: true });
    const inJetStream = await writeCheckpoint(jetstream, newJobId(), 2, { savepoint: true });
    expect(await readMetadataAt(onDisk.pointer!)).to.deep.equal(onDisk.metadata);
    expect(await readMetadataAt(inJetStream.pointer!, transport.connection)).to.deep.equal(inJetStream.metadata);
    await expect(readMetadataAt(inJetStream.pointer!)).to.be.rejectedWith(CloudflinkError, /needs a NATS connection/);
    await expect(readMetadataAt(join(root, 'missing'))).to.be.rejectedWith(CloudflinkError, /missing\/_metadata does not exist/);
  });
});
