import type { Client } from '@temporalio/client';
import type { DatasetSnapshot, SnapshotDatasetInput } from '../contract';
import { snapshotDatasetWorkflow } from '../workflows';

/** Starts a dataset snapshot workflow and waits for its result. */
export async function snapshotDataset(
  client: Client,
  input: SnapshotDatasetInput,
  options: { taskQueue: string; workflowId: string },
): Promise<DatasetSnapshot> {
  return client.workflow.execute(snapshotDatasetWorkflow, {
    taskQueue: options.taskQueue,
    workflowId: options.workflowId,
    args: [input],
  });
}
