import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { statusJson, statusTable } from '../../cli/status-view';
import { campaignStatus, lmsiDataConverter, startCampaign } from '../../client';
import type { CampaignConfig } from '../../config/campaign';
import { createLmsiWorker } from '../../workers';
import type { CampaignStatus } from '../../contract';
import { collect, runLmsi, spawnLmsi, type CliRun } from '../cli/process';
import { testCampaignConfig } from '../../testing/campaign-config';
import {
  connectTestTemporal,
  tempDir,
  testServerAddress,
  workflowBundle,
  type TestTemporal,
} from '../helpers/temporal';
import { pretrainedTinyModel } from '../../testing/tiny-model';
import { forgetAllRuns } from './forget-workflows';
import { FailingStore } from '../reliability/failing-store';
import { smallSplits } from '../../testing/fault-campaign';
import { waitFor } from '../reliability/probe';

/**
 * The CLI shows why (issue 19, item 2): a failed campaign's reason, round, step and activity; a
 * running campaign's retrying activity and its failing workflow task, with their likely cause. Real
 * dev server, real workers in this process (one with a store that can be made to fail), the real
 * `lmsi` command as a process.
 */
const bad = path.resolve(__dirname, '../fixtures/bad');
/** Worker identities as two hosts would have them (lmsi worker --identity). */
const LIGHT_WORKER = 'light@host-a';
const ACCELERATOR_WORKER = 'accelerator@host-b';
let temporal: TestTemporal;
let root: string;
let store: FailingStore;
let base: CampaignConfig;
const workers: Worker[] = [];
let running: Promise<void>[] = [];

beforeAll(async () => {
  temporal = await connectTestTemporal();
  const tiny = await pretrainedTinyModel();
  root = await tempDir('diagnosis');
  const dataDir = await smallSplits(tiny, path.join(root, 'data'), { unlabeled: 8, eval: 4 });
  base = testCampaignConfig({
    name: 'diagnosis',
    modelDir: tiny.modelDir,
    dataDir,
    artifactsDir: path.join(root, 'artifacts'),
  });
  base = { ...base, rounds: 1, sampling: { ...base.sampling, shardSize: 4 } };
  base.temporal.address = testServerAddress();
  store = new FailingStore(base.artifacts.dir);
  const common = {
    connection: temporal.nativeConnection,
    artifactsDir: base.artifacts.dir,
    store,
    threads: 2,
  };
  // No codec key: the workers of the "different key" case below.
  workers.push(
    await createLmsiWorker({
      ...common,
      role: 'light',
      taskQueue: base.temporal.taskQueues.light,
      identity: LIGHT_WORKER,
      workflowBundle: await workflowBundle(),
      dataConverter: lmsiDataConverter(null),
    }),
    await createLmsiWorker({
      ...common,
      role: 'accelerator',
      taskQueue: base.temporal.taskQueues.accelerator,
      identity: ACCELERATOR_WORKER,
      dataConverter: lmsiDataConverter(null),
    }),
  );
  running = workers.map((w) => w.run());
}, 300_000);

afterAll(async () => {
  for (const w of workers) w.shutdown();
  await Promise.all(running);
  await temporal.close();
});

afterEach(() => {
  store.fault = null;
});

let n = 0;
function campaign(patch: (c: CampaignConfig) => CampaignConfig = (c) => c): CampaignConfig {
  return patch({ ...base, name: `diagnosis-${++n}-${Date.now()}` });
}

const lmsi = (args: string[], env?: NodeJS.ProcessEnv) => runLmsi(args, root, 120_000, env);
const address = () => testServerAddress();

async function writeConfig(config: CampaignConfig): Promise<string> {
  const file = path.join(root, `${config.name}.json`);
  await fs.writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

const expectOk = (run: CliRun) => {
  if (run.code !== 0) throw new Error(`exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
};

describe('a failed campaign shows why, where', () => {
  it('status (text and --json): the BadInput message, round 0, step starting, activity snapshotDataset', async () => {
    const questions = path.join(bad, 'missing-field.jsonl');
    const config = campaign((c) => ({ ...c, data: { ...c.data, unlabeledQuestions: questions } }));
    const handle = await startCampaign(temporal.client, config);
    await handle.result().catch(() => undefined);

    const json = await lmsi(['status', config.name, '--json', '--address', address()]);
    expectOk(json);
    const status = JSON.parse(json.stdout);
    expect(status).toMatchObject({
      state: 'failed',
      round: 0,
      step: 'starting',
      failure: {
        type: 'BadInput',
        round: 0,
        step: 'starting',
        activity: 'snapshotDataset',
        workflowId: config.name,
      },
    });
    expect(status.failure.message.startsWith(`${questions}:2: question: `)).toBe(true);

    const text = await lmsi(['status', config.name, '--address', address()]);
    expectOk(text);
    expect(text.stdout).toContain(
      `failed in round 0, step starting, activity snapshotDataset (workflow ${config.name}):`,
    );
    expect(text.stdout).toContain(`  BadInput: ${questions}:2: question: `);

    // Light activities are scheduled with a heartbeat timeout of seconds (item 7): a killed worker's
    // snapshot moves on after it, not after the 30-minute start-to-close timeout.
    const history = await handle.fetchHistory();
    const scheduled = history.events!.flatMap((e) => e.activityTaskScheduledEventAttributes ?? []);
    expect(scheduled.map((a) => a.activityType?.name)).toContain('snapshotDataset');
    for (const a of scheduled) expect(Number(a.heartbeatTimeout?.seconds)).toBe(20);

    // The campaign recorded its failure in its index: once Temporal has forgotten it, the store
    // alone shows the same failure.
    await forgetAllRuns(temporal.client, config.name);
    const archived = await lmsi([
      'status',
      config.name,
      '--json',
      '--artifacts',
      base.artifacts.dir,
      '--address',
      address(),
    ]);
    expectOk(archived);
    expect(JSON.parse(archived.stdout)).toMatchObject({
      state: 'failed',
      round: 0,
      step: 'starting',
      failure: status.failure,
    });
  });

  it('run --wait: a failure inside a round names its round, step and activity; exit 1', async () => {
    // A full disk under the drafts that shards append to: round 0's first evaluation shard fails.
    store.fault = { code: 'ENOSPC', on: 'drafts' };
    const config = campaign();
    const run = await lmsi(['run', '--config', await writeConfig(config), '--wait']);
    if (run.code !== 1 || !run.stdout.includes('failed'))
      throw new Error(`exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    expect(run.stdout).toContain(`campaign ${config.name}: failed, round 0, step evaluate`);
    expect(run.stdout).toContain(
      `failed in round 0, step evaluate, activity evaluateShard (workflow ${config.name}/round-0):`,
    );
    expect(run.stdout).toContain(
      `  ArtifactStoreUnwritable: ${path.join(base.artifacts.dir, 'drafts')}: artifacts.dir: no space left on the device`,
    );
  }, 300_000);
});

describe('a running campaign that cannot move shows what holds it', () => {
  it('an activity failing and being retried: attempt, last failure, next retry (status --json, status, client)', async () => {
    store.fault = { code: 'EIO', on: 'every-write' };
    const config = campaign();
    const handle = await startCampaign(temporal.client, config);
    try {
      const status = await waitFor(
        () => campaignStatus(temporal.client, config.name),
        (s) => (s.retrying ?? []).some((a) => a.attempt >= 2 && a.nextRetry !== null),
        'a retrying snapshot activity',
        60_000,
      );
      expect(status.state).toBe('running');
      const retrying = status.retrying!.find((a) => a.nextRetry !== null)!;
      expect(['snapshotDataset', 'importModel']).toContain(retrying.activity);
      expect(retrying).toMatchObject({ workflowId: config.name, maximumAttempts: 20 });
      expect(retrying.lastFailure).toContain('EIO: i/o error');
      expect(Date.parse(retrying.nextRetry!)).not.toBeNaN();

      const json = await lmsi(['status', config.name, '--json', '--address', address()]);
      expectOk(json);
      const shown = JSON.parse(json.stdout) as CampaignStatus;
      expect(shown.state).toBe('running');
      expect(shown.retrying!.length).toBeGreaterThan(0);
      const text = await lmsi(['status', config.name, '--address', address()]);
      expect(text.stdout).toMatch(
        new RegExp(
          `retrying: (snapshotDataset|importModel) \\(workflow ${config.name}\\), attempt \\d+ of 20, (next retry at|retrying now)`,
        ),
      );
      expect(text.stdout).toContain('  last failure: Error: EIO: i/o error');

      // status --watch tells each new retry as it comes, and exits 1 once the campaign is stopped.
      const watch = spawnLmsi(['status', config.name, '--watch', '--address', address()], root);
      const watched = collect(watch, 60_000, 'lmsi status --watch');
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        watch.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('last failure: Error: EIO: i/o error')) resolve();
        });
        watch.on('exit', () => reject(new Error(`status --watch exited early: ${stderr}`)));
      });
      await handle.terminate('test over');
      const end = await watched;
      expect(end.code).toBe(1);
      expect(end.stderr).toMatch(/\nretrying: (snapshotDataset|importModel) \(workflow /);
      expect(end.stdout).toContain(`campaign ${config.name}: failed`);
    } finally {
      await handle.terminate('test over').catch(() => undefined);
    }
  });

  it('a workflow task that keeps failing on a payload key the worker lacks: its failure and likely cause', async () => {
    const keyring = { current: 'k1', keys: new Map([['k1', randomBytes(32)]]) };
    const keyed = new Client({
      connection: temporal.client.connection,
      dataConverter: lmsiDataConverter(keyring),
    });
    const config = campaign();
    const handle = await startCampaign(keyed, config);
    try {
      const status = await waitFor(
        () => campaignStatus(keyed, config.name),
        (s) => (s.failingWorkflowTasks ?? []).length > 0,
        'a failing workflow task',
        60_000,
      );
      expect(status.state).toBe('running');
      const task = status.failingWorkflowTasks![0];
      expect(task.workflowId).toBe(config.name);
      expect(task.attempt).toBeGreaterThanOrEqual(2);
      expect(task.lastFailure).toContain('Unknown encoding: binary/encrypted');
      expect(task.likelyCause).toMatch(/^the worker has no payload key/);

      // The CLI with the campaign's key: the same, in words.
      const env = { LMSI_CODEC_KEY: keyring.keys.get('k1')!.toString('base64'), LMSI_CODEC_KEY_ID: 'k1' };
      const text = await lmsi(['status', config.name, '--address', address()], env);
      expectOk(text);
      expect(text.stdout).toContain(`workflow task failing: workflow ${config.name}, attempt`);
      expect(text.stdout).toContain('Unknown encoding: binary/encrypted');
      expect(text.stdout).toContain('  likely cause: the worker has no payload key');
    } finally {
      await handle.terminate('test over');
    }
  });
});

describe('a running campaign shows which worker runs what (issue 22, item 6)', () => {
  it('status (client, --json shape, table): each started activity, the worker that runs it, its last heartbeat', async () => {
    const config = campaign();
    const handle = await startCampaign(temporal.client, config);
    try {
      // Round 0 evaluates on the accelerator worker: catch an evaluation shard while it runs.
      const status = await waitFor(
        () => campaignStatus(temporal.client, config.name),
        (s) => (s.running ?? []).some((a) => a.worker === ACCELERATOR_WORKER),
        'an activity running on the accelerator worker',
        120_000,
      );
      const a = status.running!.find((x) => x.worker === ACCELERATOR_WORKER)!;
      expect(a.workflowId).toBe(`${config.name}/round-0`);
      expect(a.attempt).toBe(1);
      expect(Date.parse(a.startedAt!)).not.toBeNaN();
      if (a.lastHeartbeat !== null)
        expect(Date.parse(a.lastHeartbeat)).toBeGreaterThanOrEqual(Date.parse(a.startedAt!));
      // Every running activity names a worker of this test, and the light ones the light worker.
      for (const r of status.running!) expect([LIGHT_WORKER, ACCELERATOR_WORKER]).toContain(r.worker);
      expect(statusJson(status).running).toEqual(status.running);
      expect(statusTable(status)).toContain(
        `running: ${a.activity} (workflow ${config.name}/round-0) on ${ACCELERATOR_WORKER}, attempt 1, `,
      );
    } finally {
      await handle.terminate('test over');
    }
  });
});
