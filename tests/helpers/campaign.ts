import * as path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { CampaignConfig, type CampaignConfigInput } from '../../config/campaign';
import { createLmsiWorker } from '../../workers';
import { uniqueTaskQueue, workflowBundle, type TestTemporal } from './temporal';

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

/** A light worker (workflows + light activities) and an accelerator worker for a config's queues. */
export async function campaignWorkers(temporal: TestTemporal, config: CampaignConfig): Promise<Worker[]> {
  const common = { connection: temporal.nativeConnection, artifactsDir: config.artifacts.dir, threads: 2 };
  return Promise.all([
    createLmsiWorker({
      ...common,
      role: 'light',
      taskQueue: config.temporal.taskQueues.light,
      workflowBundle: await workflowBundle(),
    }),
    createLmsiWorker({ ...common, role: 'accelerator', taskQueue: config.temporal.taskQueues.accelerator }),
  ]);
}

/** Runs workers until `fn` settles, then shuts them down. */
export async function withWorkers<T>(workers: Worker[], fn: () => Promise<T>): Promise<T> {
  const running = workers.map((w) => w.run());
  try {
    return await fn();
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.all(running);
  }
}
