import * as path from 'node:path';
import { finishedRounds, startCampaign } from '../../client';
import { CampaignConfig } from '../../config/campaign';
import type { FineTuneHeartbeat, PolicyRecord, QuestionSamples, RoundResult } from '../../contract';
import { LocalArtifactStore } from '../../store';
import { campaignWorkers, withWorkers } from '../helpers/campaign';
import { connectTestTemporal, tempDir, testServerAddress, type TestTemporal } from '../helpers/temporal';
import {
  datasetIds,
  faultCampaignConfig,
  outcome,
  referenceRun,
  sha256OfArtifact,
} from '../../testing/fault-campaign';
import { completedActivities, runningActivities, type StartedActivityDetails } from './probe';
import { startWorkerProcess, writeWorkflowBundle, type WorkerProcess } from '../../testing/worker-process';

/**
 * Issue 23: a TTRL round has the durability of every round. One TTRL campaign's only worker process
 * is SIGKILLed twice in round 1 (mid-sampling, and mid policy update once a checkpoint has been
 * heartbeated); a new worker finishes each time. Everything the round produced must equal an
 * uninterrupted run of the same config and seed. The cases run in order.
 */
let temporal: TestTemporal;
let root: string;
let bundlePath: string;
let config: CampaignConfig;
let reference: RoundResult[];
let referenceDir: string;
let campaign: Promise<unknown>;
const workers: WorkerProcess[] = [];
let started = 0;
const killed: { identity: string; activityId: string; type: string; details: unknown }[] = [];

const M = 6;
const TRAINED_PATHS = 4;

/** faultCampaignConfig (5 s heartbeat timeout, small shards) as a TTRL campaign. */
function ttrlConfig(dataDir: string, modelDir: string, name: string, artifactsDir: string): CampaignConfig {
  const base = faultCampaignConfig(dataDir, modelDir, name, artifactsDir);
  return CampaignConfig.parse({
    ...base,
    strategy: 'ttrl',
    // Two shards of 16: the sampler persists a shard's questions 8 prompts per call, so a shard
    // killed at its first persisted question still has its second call to go.
    sampling: { ...base.sampling, m: M, shardSize: 16 },
    evaluation: { ...base.evaluation, shardSize: 8 },
    ttrl: { trainedPaths: TRAINED_PATHS, clipEpsilon: 0.2, klBeta: 0.01 },
    // Enough steps after the first checkpoint that the probe sees it and kills before the end, even
    // on an idle machine where the tiny model trains fast.
    training: { ...base.training, steps: 64, batchSize: 4, checkpointEvery: 4, learningRate: 1e-4 },
  });
}

const roundId = () => `${config.name}/round-1`;
/**
 * Waits until the round's running activity of `type` has heartbeated details satisfying `ok`. Polls
 * more often than probe.ts's waitFor: when the machine is idle the tiny model's shard or update
 * lasts about a second after its first heartbeat, and a slower poll can miss every window.
 */
async function heartbeatOf(type: string, ok: (details: unknown) => boolean): Promise<StartedActivityDetails> {
  const end = Date.now() + 180_000;
  for (;;) {
    const found = (await runningActivities(temporal.client, roundId())).find(
      (a) => a.type === type && ok(a.details),
    );
    if (found) return found;
    if (Date.now() > end) throw new Error(`timed out waiting for ${type}'s heartbeat in ${roundId()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

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
/** SIGKILLs the worker process that runs the activity (the only one: it holds the workflows too). */
const killRunner = async (a: { identity: string; activityId: string; type: string; details: unknown }) => {
  const w = workers.find((p) => a.identity.startsWith(p.identityPrefix));
  if (!w) throw new Error(`no worker process for identity ${a.identity}`);
  await w.kill();
  killed.push(a);
};

async function samplesOf(artifactsDir: string, r: RoundResult): Promise<QuestionSamples[]> {
  const store = new LocalArtifactStore(artifactsDir);
  const out: QuestionSamples[] = [];
  for (const s of r.sampling!.shards)
    for await (const q of store.readJsonl<QuestionSamples>(s.ref)) out.push(q);
  return out;
}

beforeAll(async () => {
  temporal = await connectTestTemporal();
  root = await tempDir('ttrl-faults');
  bundlePath = await writeWorkflowBundle(root);
  const run = await referenceRun({
    client: temporal.client,
    root,
    sizes: { unlabeled: 32, eval: 8 },
    name: 'ttrl-reference',
    makeConfig: ttrlConfig,
    withWorkers: async (c, go) => withWorkers(await campaignWorkers(temporal, c), go),
  });
  ({ referenceDir, reference } = run);
  config = ttrlConfig(run.dataDir, run.base.modelDir, 'ttrl-kill', path.join(root, 'artifacts'));
}, 300_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await temporal.close();
});

describe('SIGKILL of the worker process during a TTRL round', () => {
  it('killed mid-sampling: a new worker finishes the shard', async () => {
    await startWorker();
    campaign = startCampaign(temporal.client, config).then((h) => h.result());
    campaign.catch(() => undefined);
    const victim = await heartbeatOf(
      'samplePaths',
      (d) => ((d as { done?: number } | undefined)?.done ?? 0) >= 1,
    );
    await killRunner(victim);
    await startWorker();
  }, 200_000);

  it('killed in the policy update after its first heartbeated checkpoint: a new worker resumes it', async () => {
    const victim = await heartbeatOf(
      'policyUpdate',
      (d) => typeof (d as FineTuneHeartbeat | undefined)?.checkpointRef === 'string',
    );
    const cursor = victim.details as FineTuneHeartbeat;
    expect(cursor.step).toBeGreaterThan(0);
    // Killed before the last step: there is training left to resume.
    expect(cursor.progress.step).toBeLessThan(config.training.steps!);
    await killRunner(victim);
    await startWorker();
  }, 200_000);

  it('the campaign completes with the same policy set, model, loss curve and metrics', async () => {
    await campaign;
    const store = new LocalArtifactStore(config.artifacts.dir);
    const rounds = (await finishedRounds(temporal.client, config.name, { store })).map((r) => r.result);
    const outcomes = (dir: string, rs: RoundResult[]) => Promise.all(rs.map((r) => outcome(dir, r)));
    expect(await outcomes(config.artifacts.dir, rounds)).toEqual(await outcomes(referenceDir, reference));
    const [r1, ref1] = [rounds[1], reference[1]];
    expect(killed.map((k) => k.type)).toEqual(['samplePaths', 'policyUpdate']);

    // The policy set: same ref and counts, and the bytes in each store hash alike.
    expect(r1.policySet).toEqual(ref1.policySet);
    expect(r1.policySet!.examples).toBeGreaterThan(0);
    expect(await sha256OfArtifact(config.artifacts.dir, r1.policySet!.ref)).toBe(
      await sha256OfArtifact(referenceDir, ref1.policySet!.ref),
    );
    // The updated model and the full loss curve, byte for byte.
    expect(r1.training!.trained).toBe(true);
    expect(r1.modelOut).toBe(ref1.modelOut);
    expect(r1.modelOut).not.toBe(r1.modelIn);
    expect(await sha256OfArtifact(config.artifacts.dir, r1.modelOut)).toBe(
      await sha256OfArtifact(referenceDir, ref1.modelOut),
    );
    expect(r1.training!.lossCurve).toEqual(ref1.training!.lossCurve);
    expect(r1.training!.lossCurveRef).toBe(ref1.training!.lossCurveRef);
    expect(await sha256OfArtifact(config.artifacts.dir, r1.training!.lossCurveRef!)).toBe(
      await sha256OfArtifact(referenceDir, ref1.training!.lossCurveRef!),
    );
    expect(r1.evaluation.summary).toEqual(ref1.evaluation.summary);

    // The killed attempts resumed from their persisted work, on the new worker.
    const killedUpdate = killed[1].details as FineTuneHeartbeat;
    expect(r1.training!.resumedFromStep).toBeGreaterThan(0);
    expect(r1.training!.resumedFromStep).toBeGreaterThanOrEqual(killedUpdate.step!);
    expect(r1.training!.resumedFromStep).toBeLessThan(r1.training!.steps);
    expect(r1.sampling!.shards.some((s) => s.resumedQuestions > 0)).toBe(true);
    const done = await completedActivities(temporal.client, roundId());
    for (const k of killed) {
      const c = done.find((x) => x.activityId === k.activityId)!;
      expect(c.attempt).toBeGreaterThanOrEqual(2);
      expect(c.identity).not.toBe(k.identity);
    }

    // Samples counted per question: every question once, each with its m paths, none lost or repeated.
    const samples = await samplesOf(config.artifacts.dir, r1);
    const ids = samples.map((q) => q.questionId);
    expect(ids).toEqual(await datasetIds(config.artifacts.dir, r1.datasetRef!));
    expect(new Set(ids).size).toBe(ids.length);
    for (const q of samples) expect(q.paths.map((p) => p.pathIndex)).toEqual([...Array(M).keys()]);
    expect(samples).toEqual(await samplesOf(referenceDir, ref1));
    // And the policy set trains the first 4 paths of each question with signal, once each.
    const byQuestion = new Map<string, number[]>();
    for await (const r of store.readJsonl<PolicyRecord>(r1.policySet!.ref))
      byQuestion.set(r.questionId, [...(byQuestion.get(r.questionId) ?? []), r.pathIndex]);
    for (const paths of byQuestion.values()) expect(paths).toEqual([...Array(TRAINED_PATHS).keys()]);
    expect(byQuestion.size).toBe(r1.policySet!.questions - r1.policySet!.questionsWithoutSignal);
  }, 200_000);
});
