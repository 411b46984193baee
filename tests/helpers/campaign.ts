import type { Worker } from '@temporalio/worker';
import type { CampaignConfig } from '../../config/campaign';
import { createLmsiWorker } from '../../workers';
import { workflowBundle, type TestTemporal } from './temporal';

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
