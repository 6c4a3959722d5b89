import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { loadConfig, subjectBase, type ConfigIssue, type LoadConfigOptions } from '../../../lib/config/index.ts';

/** The CONFIG_INVALID error loadConfig throws for these options. */
function problems(options: LoadConfigOptions): { message: string; issues: ConfigIssue[] } {
  try {
    loadConfig(options);
  } catch (error) {
    expect(error).to.be.instanceOf(CloudflinkError);
    expect((error as CloudflinkError).code).to.equal('CONFIG_INVALID');
    const data = (error as CloudflinkError).data as { issues?: ConfigIssue[] } | undefined;
    return { message: (error as Error).message, issues: data?.issues ?? [] };
  }
  throw new Error('expected loadConfig to throw CONFIG_INVALID');
}

describe('loadConfig', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-config-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function yamlFile(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  it('loads the shipped defaults, wherever the process was started', () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(loadConfig({ env: {} })).to.deep.equal({
        cluster: { prefix: 'cf', id: 'default' },
        nats: { servers: ['nats://127.0.0.1:4222'] },
        heartbeat: { intervalMs: 500, timeoutMs: 3000 },
        taskManager: { slots: 2 },
        jobManager: { slotWaitMs: 10000, collectLimit: 100000 },
        network: { frameBytes: 32768, frameRecords: 2048, bufferTimeoutMs: 5, credits: 8 },
        events: { retainHours: 168 },
        checkpoints: { storage: 'directory', directory: '', retained: 3, replicas: 1 },
        log: { level: 'info' },
      });
    } finally {
      process.chdir(cwd);
    }
  });

  it('layers a YAML file over the defaults, merging objects and replacing lists', () => {
    const file = yamlFile('file.yaml', [
      'cluster: { id: staging }',
      'nats:',
      '  servers: [nats-a:4222, "tls://nats-b:4443"]',
      '  user: alice',
      '  pass: secret',
      'heartbeat:',
      '  timeoutMs: 5000',
      'log:            # every key commented out: keeps the defaults',
      '  # level: debug',
    ].join('\n'));
    const config = loadConfig({ file, env: {} });
    expect(config.cluster).to.deep.equal({ prefix: 'cf', id: 'staging' });
    expect(config.nats).to.deep.equal({ servers: ['nats://nats-a:4222', 'tls://nats-b:4443'], user: 'alice', pass: 'secret' });
    expect(config.heartbeat).to.deep.equal({ intervalMs: 500, timeoutMs: 5000 });
    expect(config.log.level).to.equal('info');
    expect(subjectBase(config)).to.equal('cf.staging');
  });

  it('finds the file through CLOUDFLINK_CONFIG when none is passed', () => {
    const file = yamlFile('from-env.yaml', 'taskManager: { slots: 6 }\n');
    expect(loadConfig({ env: { CLOUDFLINK_CONFIG: file } }).taskManager.slots).to.equal(6);
  });

  it('lets the environment override the file', () => {
    const file = yamlFile('env.yaml', 'taskManager: { slots: 6 }\ncluster: { prefix: file }\nnats: { servers: [a:1] }\n');
    const config = loadConfig({
      file,
      env: {
        CLOUDFLINK_SLOTS: '8',
        CLOUDFLINK_NATS: 'x:4222, nats://y:4222',
        CLOUDFLINK_NATS_TLS_CA: '/etc/ca.pem',
        CLOUDFLINK_HEARTBEAT_INTERVAL_MS: ' 250 ',
        CLOUDFLINK_LOG_LEVEL: 'debug',
        CLOUDFLINK_NATS_USER: '', // empty counts as unset
      },
    });
    expect(config.taskManager.slots).to.equal(8);
    expect(config.cluster.prefix).to.equal('file');
    expect(config.nats).to.deep.equal({ servers: ['nats://x:4222', 'nats://y:4222'], tls: { ca: '/etc/ca.pem' } });
    expect(config.heartbeat.intervalMs).to.equal(250);
    expect(config.log.level).to.equal('debug');
  });

  it('takes the checkpoint storage and directory from the environment, and rejects an unknown storage', () => {
    const config = loadConfig({ env: { CLOUDFLINK_CHECKPOINT_STORAGE: 'jetstream', CLOUDFLINK_CHECKPOINT_DIR: '/var/cf/checkpoints' } });
    expect(config.checkpoints).to.deep.equal({ storage: 'jetstream', directory: '/var/cf/checkpoints', retained: 3, replicas: 1 });
    const { issues } = problems({ env: { CLOUDFLINK_CHECKPOINT_STORAGE: 's3' } });
    expect(issues.map((i) => [i.path, i.source])).to.deep.equal([['checkpoints.storage', 'CLOUDFLINK_CHECKPOINT_STORAGE']]);
  });

  it('lets overrides (flags) override the environment, ignoring undefined ones', () => {
    const config = loadConfig({
      env: { CLOUDFLINK_SLOTS: '8', CLOUDFLINK_CLUSTER_ID: 'env', CLOUDFLINK_NATS: 'x:4222' },
      overrides: { taskManager: { slots: 3 }, cluster: { id: undefined }, nats: { servers: ['nats://flag:4222'] } },
    });
    expect(config.taskManager.slots).to.equal(3);
    expect(config.cluster.id).to.equal('env');
    expect(config.nats.servers).to.deep.equal(['nats://flag:4222']);
  });

  it('returns a fresh object each time, so one component cannot change another\'s config', () => {
    const first = loadConfig({ env: {} });
    first.nats.servers.push('nats://mutated:1');
    first.heartbeat.intervalMs = 1;
    expect(loadConfig({ env: {} }).nats.servers).to.deep.equal(['nats://127.0.0.1:4222']);
    expect(loadConfig({ env: {} }).heartbeat.intervalMs).to.equal(500);
  });

  it('reports every problem at once, each with its path and where it was set', () => {
    const file = yamlFile('many.yaml', 'cluster: { prefix: "a.b" }\nnetwork: { credits: 0 }\n');
    const { message, issues } = problems({
      file,
      env: { CLOUDFLINK_HEARTBEAT_TIMEOUT_MS: '50', CLOUDFLINK_LOG_LEVEL: 'loud' },
      overrides: { taskManager: { slots: 1.5 } },
    });
    expect(issues.map((i) => i.path)).to.deep.equal(['cluster.prefix', 'heartbeat.timeoutMs', 'log.level', 'network.credits', 'taskManager.slots']);
    expect(message).to.match(/5 problems/);
    expect(message).to.include(`cluster.prefix: must be a NATS subject token: letters, digits, _ or - only, got 'a.b' (set by ${file})`);
    expect(message).to.include('heartbeat.timeoutMs: must be >= 100, got 50 (set by CLOUDFLINK_HEARTBEAT_TIMEOUT_MS)');
    expect(message).to.include("log.level: must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'");
    expect(message).to.include(`network.credits: must be >= 1, got 0 (set by ${file})`);
    expect(message).to.include('taskManager.slots: must be integer, got 1.5 (set by flags)');
    expect(message).to.match(/fix each where it is set/);
  });

  it('requires heartbeat.timeoutMs to exceed intervalMs, naming both sources', () => {
    const { issues } = problems({ env: { CLOUDFLINK_HEARTBEAT_INTERVAL_MS: '3000' } });
    expect(issues).to.have.length(1);
    expect(issues[0]!.path).to.equal('heartbeat.timeoutMs');
    expect(issues[0]!.message).to.match(/must be greater than heartbeat\.intervalMs \(3000\), got 3000/);
    expect(issues[0]!.source).to.equal('the shipped defaults (config/cloudflink.yaml) and CLOUDFLINK_HEARTBEAT_INTERVAL_MS');
  });

  it('checks the pairs that only work together', () => {
    const { issues } = problems({ env: { CLOUDFLINK_NATS_PASS: 'secret', CLOUDFLINK_NATS_TLS_KEY: '/k.pem' } });
    expect(issues.map((i) => `${i.path}: ${i.message}`)).to.deep.equal([
      'nats.pass: is set without nats.user; a password needs a user name',
      'nats.tls.key: is set without nats.tls.cert; a client certificate needs both',
    ]);
  });

  it('reports an unknown key with its full path and the key it probably meant', () => {
    const file = yamlFile('typo.yaml', 'heartbeat:\n  timeoutMS: 5000\nnats:\n  tls: { ca: /ca.pem, crt: /c.pem }\nmetrics: { port: 9249 }\n');
    const { issues } = problems({ file, env: {} });
    expect(issues).to.deep.equal([
      { path: 'heartbeat.timeoutMS', message: "unknown key; did you mean 'timeoutMs'?", source: file },
      { path: 'metrics', message: 'unknown key; known keys here: cluster, nats, heartbeat, taskManager, jobManager, network, events, checkpoints, log', source: file },
      { path: 'nats.tls.crt', message: "unknown key; did you mean 'cert'?", source: file },
    ]);
  });

  it('keeps a __proto__ key in a file an unknown key, not a prototype', () => {
    const file = yamlFile('proto.yaml', 'log:\n  __proto__: { level: debug }\n');
    const { issues } = problems({ file, env: {} });
    expect(issues.map((i) => i.path)).to.deep.equal(['log.__proto__']);
    expect(({} as Record<string, unknown>).level).to.equal(undefined);
  });

  it('names a numeric environment variable that is not a number, and still reports the rest', () => {
    const { message, issues } = problems({ env: { CLOUDFLINK_SLOTS: 'two', CLOUDFLINK_SLOT_WAIT_MS: '10s', CLOUDFLINK_PREFIX: 'a b' } });
    expect(issues.map((i) => i.path)).to.deep.equal(['cluster.prefix', 'jobManager.slotWaitMs', 'taskManager.slots']);
    expect(message).to.include("taskManager.slots: CLOUDFLINK_SLOTS must be a whole number, got 'two'");
    expect(message).to.include("jobManager.slotWaitMs: CLOUDFLINK_SLOT_WAIT_MS must be a whole number, got '10s'");
  });

  it('names the variable when CLOUDFLINK_NATS holds something that is not a server', () => {
    const { message } = problems({ env: { CLOUDFLINK_NATS: 'good:4222,http://web:80' } });
    expect(message).to.include("nats.servers: CLOUDFLINK_NATS: 'http://web:80' has scheme 'http'; use nats:// or tls://");
  });

  it('says which file is missing, and who named it', () => {
    const missing = join(dir, 'nope.yaml');
    expect(() => loadConfig({ file: missing, env: {} })).to.throw(CloudflinkError, `config file ${missing} does not exist`);
    expect(() => loadConfig({ env: { CLOUDFLINK_CONFIG: missing } })).to.throw(CloudflinkError, `(named by CLOUDFLINK_CONFIG)`);
  });

  it('rejects a file that is not YAML, or not a mapping, naming the file', () => {
    const broken = yamlFile('broken.yaml', 'heartbeat: { intervalMs: 500\n');
    expect(() => loadConfig({ file: broken, env: {} })).to.throw(CloudflinkError, `config file ${broken} is not valid YAML`);
    const list = yamlFile('list.yaml', '- a\n- b\n');
    expect(() => loadConfig({ file: list, env: {} })).to.throw(CloudflinkError, /must be a mapping of sections .*not a list/);
  });

  it('accepts an empty file as "no changes"', () => {
    const empty = yamlFile('empty.yaml', '# nothing yet\n');
    expect(loadConfig({ file: empty, env: {} }).taskManager.slots).to.equal(2);
  });
});
