import type { CalibrationTable } from '../method/metrics';
import type { EvaluationSettings, VotingSettings } from './config';
import type { TaskRef } from './task';

/** The input of summarizeEvaluation: scores a model's evaluation shards against the labels. */
export interface SummarizeEvaluationInput extends Pick<EvaluationSettings, 'scK' | 'calibrationBins'> {
  datasetRef: string;
  shardRefs: string[];
  task: TaskRef;
  weighting: VotingSettings['weighting'];
  seed: string;
}

export interface EvaluationSummary {
  questions: number;
  /** Greedy chain-of-thought accuracy (null when greedy decoding was off). */
  greedyAccuracy: number | null;
  greedyAbstained: number | null;
  /** SC@k for the largest k of the config: the headline self-consistency accuracy. */
  scAccuracy: number;
  sc: { k: number; accuracy: number }[];
  accuracyVsK: { k: number; accuracy: number }[];
  calibration: CalibrationTable;
  /** JSON artifact with the per-question scores (audit). */
  detailsRef: string;
}
