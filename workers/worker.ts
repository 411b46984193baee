import * as path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { LocalArtifactStore } from '../store';

export interface LmsiWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  /** Root of the artifact store shared by every worker of a campaign. */
  artifactsDir: string;
  /** Pre-built workflow bundle (tests build one per file); otherwise bundled from workflows/. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxConcurrentActivityTaskExecutions?: number;
}

/** The workflows folder, as source (tests, tsx) or compiled (dist). */
export const workflowsPath = require.resolve('../workflows');

export async function createLmsiWorker(options: LmsiWorkerOptions): Promise<Worker> {
  const store = new LocalArtifactStore(path.resolve(options.artifactsDir));
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    activities: createActivities({ store }),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions,
  });
}
