import type { TaskOptions } from '../method/tasks';
import type { BadLinePolicy, TaskName } from '../method/types';

/** The input of snapshotDataset: a questions file to copy into the artifact store. */
export interface SnapshotDatasetInput {
  task: TaskName;
  taskOptions?: TaskOptions;
  /** A questions file readable by the worker. */
  file: string;
  policy?: BadLinePolicy;
  limit?: number;
  /**
   * Every question needs its label (an evaluation file): one without fails here, naming its line,
   * rather than after the whole evaluation has run. Absent in snapshots scheduled before it existed.
   */
  requireLabels?: boolean;
}

export interface DatasetSnapshot {
  /** JSONL artifact of validated `Question`s. */
  ref: string;
  count: number;
  /** Lines skipped under 'skip-and-report', stored as a JSONL artifact of BadLine. */
  badLines: number;
  badLinesRef: string | null;
  file: string;
}

/** The input of importModel: a model folder readable by the worker. */
export interface ImportModelInput {
  dir: string;
}

export interface ModelArtifact {
  ref: string;
  files: number;
}

/** The input of snapshotExemplars and snapshotReplayExamples: a JSONL file readable by the worker. */
export interface SnapshotFileInput {
  file: string;
}

/** The result of snapshotExemplars and generateExemplars. */
export interface ExemplarSetsResult {
  /** JSON artifact: Exemplar[][] (templates of shots). */
  ref: string;
  templates: number;
  shots: number;
}

/** The result of snapshotReplayExamples: the labeled seed examples replayed during fine-tuning. */
export interface ReplaySnapshot {
  ref: string;
  count: number;
}
