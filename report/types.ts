import type { DropReason, ConfidenceHistogramBin } from '../method/filter';
import type { LabelFreeHealth } from '../method/health';
import type { CalibrationBin } from '../method/metrics';
import type { CampaignStop, GateDecision } from '../contract';

/** How one model scored on the labeled evaluation set after a round. */
export interface ModelScores {
  questions: number;
  greedyAccuracy: number | null;
  /** SC@k at the largest k of the config (the headline self-consistency accuracy). */
  scAccuracy: number;
  scK: number;
  sc: { k: number; accuracy: number }[];
  accuracyVsK: { k: number; accuracy: number }[];
  /** The paper's Figure 2: confidence bin -> accuracy (and how many questions fell in it). */
  calibration: CalibrationBin[];
  expectedCalibrationError: number;
}

export interface TrainingReport {
  trained: boolean;
  steps: number;
  examples: number;
  tokensSeen: number;
  finalLoss: number | null;
  resumedFromStep: number;
  /** The full curve from the round's loss-curve artifact when it has one. */
  lossCurve: { step: number; loss: number }[];
}

export interface RoundReport {
  round: number;
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  modelIn: string;
  modelOut: string;
  scores: ModelScores;
  gate: GateDecision;
  generatedQuestions: { sampled: number; added: number; unparseable: number; duplicates: number } | null;
  sampling: {
    questions: number;
    paths: number;
    shards: number;
    finishReasons: Record<string, number>;
    resumedQuestions: number;
  } | null;
  /**
   * What the model's context limited (contract/context-limits.ts): questions skipped because their
   * prompt is longer than the context, by step, and every skip and maxNewTokens clip in words. Null
   * when it limited nothing.
   */
  context: {
    skippedQuestions: number;
    skipped: { step: string; questionIds: string[] }[];
    warnings: string[];
  } | null;
  /** Vote and filter: what was kept, what was dropped and why. */
  filtering: {
    questions: number;
    questionsKept: number;
    paths: number;
    keptPaths: number;
    droppedBy: Record<DropReason, number>;
    meanKeptConfidence: number | null;
    confidenceHistogram: ConfidenceHistogramBin[];
  } | null;
  trainingSet: { examples: number; perFormat: Record<string, number>; replayed: number } | null;
  /** strategy 'ttrl': the rewarded paths of the GRPO update (null otherwise). */
  policySet: {
    examples: number;
    questions: number;
    questionsWithoutSignal: number;
    meanReward: number;
  } | null;
  training: TrainingReport | null;
  /**
   * Label-free health (method/health.ts) of the round's sampled paths and of its evaluated model's
   * paths (labels unread); null where the round has none (rounds run before it; round 0 samples none).
   */
  health: { sampled: LabelFreeHealth | null; evaluated: LabelFreeHealth | null };
  /** Distillation: the student's own line. */
  student: { modelIn: string; modelOut: string; scores: ModelScores; training: TrainingReport | null } | null;
  /** Every artifact of the round, for `lmsi audit` and for anyone checking the record. */
  refs: {
    exemplars: string | null;
    generatedQuestions: string | null;
    sampleShards: string[];
    keptPaths: string | null;
    votes: string | null;
    trainingSet: string | null;
    /** strategy 'ttrl': every trained path with its reward and advantage. */
    policySet: string | null;
    lossCurve: string | null;
    evaluationShards: string[];
    evaluationDetails: string;
  };
}

export interface CampaignReport {
  kind: 'lmsi.report';
  version: 1;
  campaignId: string;
  generatedAt: string;
  rounds: RoundReport[];
  /** The last promoted round's model: the campaign's current model (its bestModelRef). */
  currentModel: { round: number; modelRef: string; accuracy: number } | null;
  /** The best gated accuracy (greedy, or SC when greedy is off) among promoted rounds. */
  bestAccuracy: number | null;
  totalWallSeconds: number;
  /** Why the campaign stopped before its last round (too few paths kept, or gate.labelFree); absent otherwise. */
  stopped?: CampaignStop;
}
