import type { ActivityDeps } from './deps';
import { makeSnapshotDataset } from './snapshot-dataset';

export type { ActivityDeps } from './deps';
export type { DatasetSnapshot, SnapshotDatasetInput } from './snapshot-dataset';
export { NON_RETRYABLE_TYPES } from './failures';

/** Every lmsi activity, bound to its dependencies; workers register this object. */
export function createActivities(deps: ActivityDeps) {
  return {
    snapshotDataset: makeSnapshotDataset(deps),
  };
}

export type LmsiActivities = ReturnType<typeof createActivities>;
