import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import { runCli } from '../helpers/cli.ts';
import { clusterFlags, startProcessCluster } from '../helpers/cluster.ts';
import { startNats, type TestNats } from '../helpers/nats.ts';
import { writeText } from '../helpers/text.ts';

/** `tr -s ' \n' '\n' | sort | uniq -c`, the reference the issue names, run by the shell tools themselves. */
function referenceCounts(file: string): Map<string, number> {
  const output = execFileSync('bash', ['-c', `tr -s ' \\n' '\\n' < "${file}" | sort | uniq -c`], { maxBuffer: 64 * 1024 * 1024 }).toString();
  const counts = new Map<string, number>();
  for (const line of output.split('\n')) {
    const match = /^\s*(\d+) (.+)$/.exec(line);
    if (match) counts.set(match[2]!, Number(match[1]));
  }
  return counts;
}

/** The rolling counts' last value per word. */
function lastCounts(lines: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const space = line.lastIndexOf(' ');
    if (space > 0) counts.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return counts;
}

describe('WordCount on a cluster of real processes', function () {
  this.timeout(300_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let dir: string;

  before(async () => {
    nats = await startNats();
    cluster = await startProcessCluster(nats.url, 'wordcount', 2, 2);
    dir = mkdtempSync(join(tmpdir(), 'cloudflink-wordcount-'));
  });

  after(async () => {
    await cluster?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts a 10 MB text at parallelism 4 on 2 TMs × 2 slots exactly as tr | sort | uniq -c', async () => {
    const input = join(dir, 'input.txt');
    const output = join(dir, 'counts.txt');
    await writeText(input, 10 * 1024 * 1024);
    const run = await runCli(['run', 'scripts/examples/wordcount.ts', '--param', `input=${input}`, '--param', `output=${output}`,
      '--parallelism', '4', '--wait', ...clusterFlags(nats.url, 'wordcount')], { timeoutMs: 240_000 });
    expect(run.stderr).to.match(/wordcount\) FINISHED/);
    expect(run.code).to.equal(0);
    const expected = referenceCounts(input);
    const actual = lastCounts(readFileSync(output, 'utf8').split('\n'));
    expect(actual.size).to.equal(expected.size);
    expect(Object.fromEntries(actual)).to.deep.equal(Object.fromEntries(expected));
  });

  it('runs the bundled example on the embedded default (the README quick start)', async () => {
    const run = await runCli(['run', 'scripts/examples/wordcount.ts', '--embedded', '--parallelism', '2', '--print-events'], { timeoutMs: 120_000 });
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stderr).to.match(/job +\S+ wordcount: RUNNING → FINISHED/);
    expect(run.stderr).to.match(/task \S+ tokenize \(2\/2\) @tm-\d: INITIALIZING → RUNNING/);
    const printed = run.stdout.split('\n').map((line) => line.replace(/^\d+> /, ''));
    const expected = referenceCounts('scripts/examples/data/hamlet.txt');
    expect(Object.fromEntries(lastCounts(printed.filter((l) => !l.startsWith('submitted job'))))).to.deep.equal(Object.fromEntries(expected));
  });
});
