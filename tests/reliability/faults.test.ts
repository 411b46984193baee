import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { finishedRounds, pauseCampaign, resumeCampaign, startCampaign, trainingProgress } from '../../client';
import type { FineTuneHeartbeat } from '../../contract';
import type { CampaignConfig } from '../../config/campaign';
import type { RoundResult } from '../../contract';
import { LocalArtifactStore } from '../../store';
import { campaignWorkers, withWorkers } from '../helpers/campaign';
import { connectTestTemporal, tempDir, testServerAddress, type TestTemporal } from '../helpers/temporal';
import {
  datasetIds,
  faultCampaignConfig,
  outcome,
  referenceRun,
  sampledQuestionIds,
  sha256OfArtifact,
} from '../../testing/fault-campaign';
import { completedActivities, runningActivities, waitFor, waitForActivity } from './probe';
import { devServer } from '../../testing/dev-server';
import { startWorkerProcess, writeWorkflowBundle, type WorkerProcess } from '../../testing/worker-process';

// One campaign, killed three times (mid-shard with two workers sharing the round, mid fine-tuning,
// mid evaluation), against one uninterrupted run of the same config and seed. The cases run in order.
let temporal: TestTemporal;
let root: string;
let bundlePath: string;
let reference: RoundResult[];
let referenceDir: string;
let config: CampaignConfig;
let dataDir: string;
let baseModelDir: string;
let campaign: Promise<unknown>;
const workers: WorkerProcess[] = [];
let movedShard = -1;
let started = 0;
const killed: { identity: string; activityId: string; type: string }[] = [];

const roundId = () => `${config.name}/round-1`;
const alive = () => workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
const startWorker = async () => {
  const w = await startWorkerProcess({
    address: testServerAddress(),
    lightQueue: config.temporal.taskQueues.light,
    acceleratorQueue: config.temporal.taskQueues.accelerator,
    artifactsDir: config.artifacts.dir,
    workflowCodePath: bundlePath,
    logFile: path.join(root, `worker-${++started}.log`),
  });
  workers.push(w);
  return w;
};
/** SIGKILLs the worker that runs `identity`'s activity. */
const killRunner = async (a: { identity: string; activityId: string; type: string }) => {
  const w = workers.find((p) => a.identity.startsWith(p.identityPrefix));
  if (!w) throw new Error(`no worker process for identity ${a.identity}`);
  await w.kill();
  killed.push({ identity: a.identity, activityId: a.activityId, type: a.type });
};

beforeAll(async () => {
  temporal = await connectTestTemporal();
  root = await tempDir('worker-kill');
  bundlePath = await writeWorkflowBundle(root);
  const run = await referenceRun({
    client: temporal.client,
    root,
    sizes: { unlabeled: 32, eval: 12 },
    name: 'reference',
    makeConfig: faultCampaignConfig,
    withWorkers: async (c, go) => withWorkers(await campaignWorkers(temporal, c), go),
  });
  ({ dataDir, referenceDir, reference } = run);
  baseModelDir = run.base.modelDir;
  config = faultCampaignConfig(dataDir, baseModelDir, 'worker-kill', path.join(root, 'artifacts'));
}, 300_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await temporal.close();
});

describe('SIGKILL of worker processes during a campaign', () => {
  it('two workers share the shards of a round; a shard killed mid-way completes on the other', async () => {
    const [a, b] = await Promise.all([startWorker(), startWorker()]);
    campaign = startCampaign(temporal.client, config).then((h) => h.result());
    campaign.catch(() => undefined);
    // Both workers hold a sampling shard at once (accelerator concurrency 1 each, two shards at a time).
    const both = await waitFor(
      async () => runningActivities(temporal.client, roundId()),
      (list) =>
        list.filter((x) => x.type === 'samplePaths').length === 2 &&
        new Set(list.map((x) => x.identity.split('@')[0])).size === 2,
      'two shards on two workers',
    );
    expect(new Set(both.map((x) => x.identity.split('@')[0]))).toEqual(
      new Set([String(a.pid), String(b.pid)]),
    );
    const victim = await waitForActivity(
      temporal.client,
      roundId(),
      'samplePaths',
      (d) => ((d as { done?: number } | undefined)?.done ?? 0) >= 1,
    );
    await killRunner(victim);
    // Its shard moves to the surviving worker after the heartbeat timeout, before any new worker starts.
    const survivor = alive()[0];
    const moved = await waitFor(
      async () =>
        (await completedActivities(temporal.client, roundId())).find(
          (x) => x.activityId === victim.activityId,
        ),
      (x) => x !== undefined,
      'the killed shard to complete',
    );
    expect(moved!.identity.startsWith(survivor.identityPrefix)).toBe(true);
    expect(moved!.attempt).toBeGreaterThanOrEqual(2);
    movedShard = (moved!.input as { shard: number }).shard;
    await startWorker();
  }, 200_000);

  it('a worker killed in the middle of fine-tuning: a new worker finishes the training', async () => {
    const victim = await waitForActivity(
      temporal.client,
      roundId(),
      'fineTune',
      (d) => typeof (d as { checkpointRef?: string } | undefined)?.checkpointRef === 'string',
    );
    // What `lmsi status --watch` and the demo show for the train step: the trainer's own steps.
    const shown = await trainingProgress(temporal.client, config.name, 1);
    const cursor = victim.details as FineTuneHeartbeat;
    expect(cursor.progress.step).toBeGreaterThanOrEqual(cursor.step!);
    expect(shown!.totalSteps).toBe(cursor.progress.totalSteps);
    expect(shown!.step).toBeGreaterThanOrEqual(cursor.progress.step);
    expect(shown!.totalSteps).toBeGreaterThanOrEqual(shown!.step);
    expect(Number.isFinite(shown!.loss)).toBe(true);
    await killRunner(victim);
    await startWorker();
  }, 200_000);

  it('a worker killed in the middle of evaluation: a new worker finishes the evaluation', async () => {
    const victim = await waitForActivity(
      temporal.client,
      roundId(),
      'evaluateShard',
      (d) => ((d as { done?: number } | undefined)?.done ?? 0) >= 1,
    );
    await killRunner(victim);
    await startWorker();
  }, 200_000);

  it('the campaign completes with the same artifacts and metrics as an uninterrupted run', async () => {
    await campaign;
    const store = new LocalArtifactStore(config.artifacts.dir);
    const rounds = (await finishedRounds(temporal.client, config.name, { store })).map((r) => r.result);
    const outcomes = (dir: string, rs: RoundResult[]) => Promise.all(rs.map((r) => outcome(dir, r)));
    expect(await outcomes(config.artifacts.dir, rounds)).toEqual(await outcomes(referenceDir, reference));
    const [r1, ref1] = [rounds[1], reference[1]];
    // The self-training set: same ref, and the bytes in each store hash to it.
    expect(r1.trainingSet!.ref).toBe(ref1.trainingSet!.ref);
    expect(await sha256OfArtifact(config.artifacts.dir, r1.trainingSet!.ref)).toBe(
      await sha256OfArtifact(referenceDir, ref1.trainingSet!.ref),
    );
    // Every question sampled exactly once, none missing.
    const sampled = await sampledQuestionIds(config.artifacts.dir, r1);
    expect(sampled).toEqual(await datasetIds(config.artifacts.dir, r1.datasetRef!));
    expect(new Set(sampled).size).toBe(sampled.length);
    // The killed attempts really resumed from their persisted work.
    expect(r1.sampling!.shards.some((s) => s.resumedQuestions > 0)).toBe(true);
    expect(r1.evaluation.shards.some((s) => s.resumedQuestions > 0)).toBe(true);
    expect(r1.training!.resumedFromStep).toBeGreaterThan(0);
    expect(killed.map((k) => k.type)).toEqual(['samplePaths', 'fineTune', 'evaluateShard']);
    // Each killed activity completed on another worker than the one killed.
    const done = await completedActivities(temporal.client, roundId());
    for (const k of killed) {
      const c = done.find((x) => x.activityId === k.activityId)!;
      expect(c.identity).not.toBe(k.identity);
    }
    // The killed worker's half of the shard was kept: the other worker resumed from its draft.
    expect(r1.sampling!.shards[movedShard].resumedQuestions).toBeGreaterThan(0);
  }, 200_000);
});

describe('SIGKILL of the Temporal dev server during a campaign', () => {
  it('killed mid-activity and between steps, restarted on the same database: same result', async () => {
    const server = await devServer(path.join(root, 'server-state'));
    await server.start();
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const own = faultCampaignConfig(
      dataDir,
      baseModelDir,
      'server-kill',
      path.join(root, 'server-artifacts'),
    );
    const worker = await startWorkerProcess({
      address: server.address,
      lightQueue: own.temporal.taskQueues.light,
      acceleratorQueue: own.temporal.taskQueues.accelerator,
      artifactsDir: own.artifacts.dir,
      workflowCodePath: bundlePath,
      logFile: path.join(root, 'server-kill-worker.log'),
    });
    workers.push(worker);
    try {
      await startCampaign(client, own);
      const round1 = `${own.name}/round-1`;
      // Mid-activity: a sampling shard is running. (Waiting for one that has also persisted a question
      // made the window a fraction of a shard: on a busy machine the probe could miss every shard.)
      await waitForActivity(client, round1, 'samplePaths', () => true);
      await server.kill();
      await server.start();
      // Between steps: paused, nothing running, then the server dies and comes back.
      await waitFor(
        async () => (await runningActivities(client, round1)).map((a) => a.type),
        (types) => types.includes('fineTune'),
        'fine-tuning to start',
      );
      await pauseCampaign(client, own.name);
      await waitFor(
        async () => {
          try {
            return (await client.workflow.getHandle(round1).describe()).raw.pendingActivities?.length ?? -1;
          } catch {
            return -1;
          }
        },
        (n) => n === 0,
        'the paused round to hold between activities',
      );
      await server.kill();
      await server.start();
      await resumeCampaign(client, own.name);
      await client.workflow.getHandle(own.name).result();
      // The worker process rode out both outages.
      expect(worker.child.exitCode).toBeNull();
      const store = new LocalArtifactStore(own.artifacts.dir);
      const rounds = (await finishedRounds(client, own.name, { store })).map((r) => r.result);
      const outcomes = (dir: string, rs: RoundResult[]) => Promise.all(rs.map((r) => outcome(dir, r)));
      expect(await outcomes(own.artifacts.dir, rounds)).toEqual(await outcomes(referenceDir, reference));
      expect(await sha256OfArtifact(own.artifacts.dir, rounds[1].trainingSet!.ref)).toBe(
        await sha256OfArtifact(referenceDir, reference[1].trainingSet!.ref),
      );
    } finally {
      await worker.kill();
      await connection.close();
      await server.stop();
    }
  }, 240_000);
});
