import * as path from 'node:path';
import { parseCampaignConfig } from '../config';
import { CampaignConfig, type CampaignConfigInput } from '../config/campaign';
import type { FineTuneInput } from '../contract';

// What tests and benchmarks share (not part of the built package): campaign configs, the cached tiny
// model, and the fault-injection kit (a dev server and worker processes to SIGKILL).

/** A unique task queue per test, so suites sharing the server never steal each other's tasks. */
export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** The parsed training section of a minimal campaign around `training` (parseCampaignConfig's). */
export function parsedTraining(training: object): CampaignConfig['training'] {
  return parseCampaignConfig(
    JSON.stringify({
      name: 'c',
      model: { dir: 'm' },
      task: { name: 'arith' },
      data: { unlabeledQuestions: 'u.jsonl', evaluation: 'e.jsonl' },
      training,
    }),
  ).training;
}

/** A campaign config for tests: tiny everything, unique task queues, short heartbeat timeout. */
export function testCampaignConfig(overrides: {
  name: string;
  modelDir: string;
  dataDir: string;
  artifactsDir: string;
  extra?: Partial<CampaignConfigInput>;
}): CampaignConfig {
  return CampaignConfig.parse({
    name: overrides.name,
    seed: 7,
    model: { dir: overrides.modelDir },
    task: { name: 'arith' },
    data: {
      unlabeledQuestions: path.join(overrides.dataDir, 'unlabeled.jsonl'),
      evaluation: path.join(overrides.dataDir, 'eval.jsonl'),
    },
    sampling: {
      m: 4,
      temperature: 0.8,
      maxNewTokens: 72,
      prompt: 'zero-shot-cot',
      shardSize: 8,
      maxConcurrentShards: 2,
    },
    formats: ['zero-shot-cot', 'zero-shot-direct'],
    training: { steps: 4, batchSize: 4, checkpointEvery: 2, learningRate: 1e-3 },
    evaluation: { scK: [2, 4], shardSize: 8 },
    rounds: 2,
    // Orchestration tests run untrained models, whose rounds keep no path: they go on regardless.
    gate: { tolerance: 1, stopWhenNothingKept: false },
    temporal: {
      heartbeatTimeoutSeconds: 20,
      taskQueues: { light: uniqueTaskQueue('light'), accelerator: uniqueTaskQueue('accel') },
    },
    artifacts: { dir: overrides.artifactsDir },
    ...overrides.extra,
  });
}

/**
 * A fineTune / policyUpdate activity's training section for one step on a tiny set: every field
 * given, as a round's settings reach the activity.
 */
export const oneStepTraining: FineTuneInput['training'] = {
  steps: 1,
  learningRate: 1e-3,
  batchSize: 2,
  gradientAccumulation: 1,
  warmupSteps: 0,
  weightDecay: 0,
  checkpointEvery: 10,
};
