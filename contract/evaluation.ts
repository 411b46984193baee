import type { LabelFreeHealth } from '../method/health';
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
  /** The previous round's per-question scores (`detailsRef`), for the health's agreement. */
  previousDetailsRef?: string | null;
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
  /**
   * Label-free health of the evaluated model's sampled paths (their answers, texts and lengths; the
   * labels are not read for it): what gate.labelFree judges. Absent in rounds run before it.
   */
  health?: LabelFreeHealth;
}
