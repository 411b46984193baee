import { proxyActivities } from '@temporalio/workflow';
import type { DatasetSnapshot, LmsiActivities, SnapshotDatasetInput } from '../contract';
import { LIGHT } from './presets';

const { snapshotDataset } = proxyActivities<LmsiActivities>(LIGHT);

/** Snapshots a questions file into the artifact store and returns its ref and count. */
export async function snapshotDatasetWorkflow(input: SnapshotDatasetInput): Promise<DatasetSnapshot> {
  return snapshotDataset(input);
}
