import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { finishedRounds, startCampaign } from '../client';
import type { CampaignConfig } from '../config/campaign';
import type { RoundResult } from '../contract';
import { testCampaignConfig, uniqueTaskQueue } from './campaign-config';
import type { ArithBaseModel } from '../embedded';
import { LocalArtifactStore } from '../store';
import { pretrainedTinyModel } from './tiny-model';

/**
 * The campaign every fault-injection case runs: round 0 (evaluate the base) and one round of
 * self-improvement on the cached tiny pretrained model, long enough at each step to be killed in the
 * middle of it, with a short heartbeat timeout so a dead worker's activity moves on quickly.
 */
export function faultCampaignConfig(
  dataDir: string,
  modelDir: string,
  name: string,
  artifactsDir: string,
): CampaignConfig {
  const config = testCampaignConfig({
    name: `${name}-${Date.now()}`,
    modelDir,
    dataDir,
    artifactsDir,
    extra: { rounds: 1 },
  });
  return {
    ...config,
    sampling: { ...config.sampling, shardSize: 16 },
    // One evaluation shard of all 12 questions: killed at its first finished question, it has 11 to go
    // (two shards of 6 could finish between the probe and the kill on a loaded machine).
    evaluation: { ...config.evaluation, shardSize: 12 },
    // Long enough (a few seconds) that the probe sees a stored checkpoint before training ends under load.
    training: { ...config.training, steps: 100, batchSize: 4, checkpointEvery: 4 },
    temporal: {
      ...config.temporal,
      heartbeatTimeoutSeconds: 5,
      taskQueues: { light: uniqueTaskQueue('light'), accelerator: uniqueTaskQueue('accel') },
    },
  };
}

/**
 * What must not depend on faults: every artifact ref, count and metric of a round. Left out: the
 * config (names and queues differ per run), timestamps, and how much work an attempt found done.
 */
export async function outcome(artifactsDir: string, r: RoundResult): Promise<unknown> {
  return {
    round: r.round,
    datasetRef: r.datasetRef,
    modelIn: r.modelIn,
    // Checkpoints hold no wall-clock time, so a resumed training yields the very same model ref.
    modelOut: r.modelOut,
    sampling: r.sampling && {
      ...r.sampling,
      shards: r.sampling.shards.map(({ resumedQuestions: _r, ...s }) => s),
    },
    vote: r.vote,
    trainingSet: r.trainingSet,
    training: r.training && { ...r.training, resumedFromStep: undefined },
    evaluation: {
      summary: r.evaluation.summary,
      shards: r.evaluation.shards.map(({ resumedQuestions: _r, ...s }) => s),
    },
    gate: r.gate,
  };
}

/** The first `sizes` questions of the pretrained model's splits: small enough for a fault test. */
export async function smallSplits(
  base: ArithBaseModel,
  dir: string,
  sizes: { unlabeled: number; eval: number },
) {
  await fs.mkdir(dir, { recursive: true });
  const head = async (file: string, n: number, out: string) => {
    const lines = (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
    await fs.writeFile(path.join(dir, out), lines.slice(0, n).join('\n') + '\n');
  };
  await head(base.data.unlabeled, sizes.unlabeled, 'unlabeled.jsonl');
  await head(base.data.eval, sizes.eval, 'eval.jsonl');
  return dir;
}

export async function sha256OfArtifact(artifactsDir: string, ref: string): Promise<string> {
  const bytes = await new LocalArtifactStore(artifactsDir).get(ref);
  return createHash('sha256').update(bytes).digest('hex');
}

/** Question ids of a round's sampling shards, in order (each must appear once, none missing). */
export async function sampledQuestionIds(artifactsDir: string, r: RoundResult): Promise<string[]> {
  const store = new LocalArtifactStore(artifactsDir);
  const ids: string[] = [];
  for (const s of r.sampling!.shards) {
    for await (const q of store.readJsonl<{ questionId: string }>(s.ref)) ids.push(q.questionId);
  }
  return ids;
}

export async function datasetIds(artifactsDir: string, ref: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const q of new LocalArtifactStore(artifactsDir).readJsonl<{ id: string }>(ref)) ids.push(q.id);
  return ids;
}

/** A fault case's uninterrupted run: the campaign that every faulted run must reproduce. */
export interface ReferenceRun {
  /** The cached tiny pretrained model both runs start from. */
  base: ArithBaseModel;
  /** The small splits both runs read (smallSplits). */
  dataDir: string;
  /** The reference run's store and its finished rounds (round 0 first). */
  referenceDir: string;
  reference: RoundResult[];
}

/**
 * Runs the reference campaign of a fault suite to its end, without faults: small splits of the
 * tiny model's data under `root`, the config `makeConfig` builds for them (named `name`, its store
 * under root/reference-artifacts), on the workers `withWorkers` runs it with (in-process workers
 * are a test's, so the suite passes them in).
 */
export async function referenceRun(opts: {
  client: Client;
  root: string;
  sizes: { unlabeled: number; eval: number };
  name: string;
  makeConfig: (dataDir: string, modelDir: string, name: string, artifactsDir: string) => CampaignConfig;
  withWorkers: (config: CampaignConfig, run: () => Promise<unknown>) => Promise<unknown>;
}): Promise<ReferenceRun> {
  const base = await pretrainedTinyModel();
  const dataDir = await smallSplits(base, path.join(opts.root, 'data'), opts.sizes);
  const referenceDir = path.join(opts.root, 'reference-artifacts');
  const config = opts.makeConfig(dataDir, base.modelDir, opts.name, referenceDir);
  await opts.withWorkers(config, async () => (await startCampaign(opts.client, config)).result());
  const rounds = await finishedRounds(opts.client, config.name, {
    store: new LocalArtifactStore(referenceDir),
  });
  return { base, dataDir, referenceDir, reference: rounds.map((r) => r.result) };
}
