import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { StreamExecutionEnvironment } from '../../lib/api/index.ts';
import { ClusterClient } from '../../lib/client/index.ts';
import type { JobResult, VertexMetrics } from '../../lib/client/types.ts';
import { startLocalCluster, type LocalCluster } from '../../lib/cluster/local.ts';
import type { CloudflinkConfig } from '../../lib/config/index.ts';
import type { TaskStateEvent } from '../../lib/events/types.ts';
import { e2eConfig } from '../helpers/cluster.ts';
import { range, startNats, type TestNats } from '../helpers/nats.ts';

const RECORDS = 40_000;
const PARALLELISM = 4;
/** Each record about 510 bytes once encoded: some 64 to a 32 KB frame sent over NATS. */
const PAD = 500;
/** How long the slow operator spins per record: it takes records several times slower than the source makes them. */
const SPIN_MS = 0.02;
/** Records a source emits per call before it looks at its output again (operator.actor.ts SOURCE_BATCH). */
const SOURCE_BATCH = 256;

describe('credit-based flow control on a cluster of real processes', function () {
  this.timeout(60_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  let config: CloudflinkConfig;
  let logDir: string;

  before(async () => {
    nats = await startNats();
    // Spinning operators hold their Task Manager's event loop for a frame at a time; on a busy
    // machine that can outlast the specs' fast heartbeat timeout, and nothing here is about heartbeats.
    config = { ...e2eConfig(nats.url, 'flow'), heartbeat: { intervalMs: 500, timeoutMs: 15_000 } };
    logDir = mkdtempSync(join(tmpdir(), 'cloudflink-spec-flow-'));
    cluster = await startLocalCluster({ config, natsUrl: nats.url, taskManagers: 2, slots: 2, taskManagerStdout: 'ignore', logDir });
    client = await ClusterClient.connect(config);
  });

  after(async () => {
    await client?.close();
    await cluster?.stop();
    await nats?.stop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  const vertex = (result: JobResult, id: string): VertexMetrics => result.vertices.find((v) => v.vertexId === id)!;

  it('a slow consumer behind keyBy on another Task Manager loses nothing, and the counters show credit held the sender back', async () => {
    const env = new StreamExecutionEnvironment(client, { parallelism: PARALLELISM });
    env.generate(RECORDS, function record(i: number) { return { i, pad: 'x'.repeat(params.pad) }; }, { uid: 'numbers', params: { pad: PAD } })
      .keyBy('i')
      .process(function slow(r: { i: number }) {
        const until = performance.now() + params.spinMs;
        while (performance.now() < until) { /* a slow operator */ }
        return [r.i];
      }, { uid: 'slow', params: { spinMs: SPIN_MS } })
      .collect({ uid: 'out' });
    const handle = await env.execute('flow-control');
    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');

    // Every slot of the 2 Task Managers taken: each source subtask sends half its records to the other one, over NATS.
    const placed = new Map<number, string>();
    for await (const event of handle.events()) {
      if (event.type === 'task.state' && (event as TaskStateEvent).vertexId === 'slow' && event.to === 'RUNNING') placed.set(event.subtask, event.tmId!);
    }
    expect(new Set(placed.values()).size, JSON.stringify([...placed])).to.equal(2);

    // Not one record lost or repeated.
    const collected = result.collected.out as number[];
    expect(collected).to.have.length(RECORDS);
    expect([...collected].sort((a, b) => a - b)).to.deep.equal(range(RECORDS));
    expect(vertex(result, 'numbers').recordsOut).to.equal(RECORDS);
    expect(vertex(result, 'slow').recordsIn).to.equal(RECORDS);
    expect(vertex(result, 'out').recordsIn).to.equal(RECORDS);
    for (const v of result.vertices) expect(v.framesLost, v.vertexId).to.equal(0);

    const { credits } = config.network;
    const source = vertex(result, 'numbers');
    const slow = vertex(result, 'slow');
    // Each source subtask has 2 channels to the other Task Manager, each carrying ~2500 records in frames of
    // ~64: far more frames than their credits, so each window was spent and granted again many times.
    const natsChannels = PARALLELISM * (PARALLELISM / 2);
    expect(source.framesOut, 'frames sent').to.be.greaterThan(2 * credits * natsChannels);
    // No input channel ever queued more frames than it granted credit for…
    for (const v of result.vertices) expect(v.peakQueuedFrames, `${v.vertexId} peak queued`).to.be.at.most(credits);
    // …while the sender was held back by credit: frames waited for it (a count), and for a while (a positive counter).
    expect(source.peakWaitingFrames, 'frames that waited for credit').to.be.at.least(1);
    expect(source.backpressuredMs).to.be.greaterThan(0);
    expect(slow.peakQueuedFrames, 'frames queued at the slow operator').to.be.at.least(1);

    // Frames waiting for credit stay bounded whatever the length of the stream. The source emits only
    // while no frame waits on any channel, and looks again after each batch of SOURCE_BATCH records; so a
    // channel's waiting frames hold at most a partial buffer (< 1 frame) plus one batch (all of it, if
    // every key hashes there), in frames of at least 56 records (~64 once the first frame's size is
    // known, 2048 before); end of input, emitted even while blocked, adds one frame more: 7 in all,
    // below the credits, where a gate that finished its frame before stopping would hold ~2048 records.
    const recordsPerFrame = 56;
    const bound = Math.ceil((SOURCE_BATCH + recordsPerFrame - 1) / recordsPerFrame) + 1;
    expect(bound).to.equal(7);
    expect(source.peakWaitingFrames, 'source peak waiting frames').to.be.at.most(bound);
    // The slow operator and the sink are chained: nothing of theirs ever waits for credit.
    expect(slow.peakWaitingFrames).to.equal(0);
    expect(slow.framesOut).to.equal(0);
  });
});
