import type { CampaignConfig } from '../config/campaign';
import type { LabelFreeHealth } from '../method/health';
import type { EvaluationSummary } from './evaluation';
import type { PolicySetResult } from './policy';
import type { ShardResult } from './sampling';
import type { GeneratedQuestionsResult } from './self-generation';
import type { TaskRef } from './task';
import type { FineTuneResult, TrainingSetResult } from './training';
import type { VoteAndFilterResult } from './vote';

/** The steps of a round, in order (`LmsiStep` and the status query name them). */
export type RoundStep =
  | 'starting'
  | 'exemplars'
  | 'questions'
  | 'sample'
  | 'vote'
  | 'format'
  | 'reward'
  | 'train'
  | 'distill'
  | 'evaluate'
  | 'gate'
  | 'done';

/** Everything a campaign snapshotted at its start, carried through every round. */
export interface CampaignInputs {
  baseModelRef: string;
  unlabeledRef: string;
  unlabeledCount: number;
  evalRef: string;
  evalCount: number;
  exemplarsRef: string | null;
  replayRef: string | null;
  /** The student model to distil into (config `student`), or null. */
  studentModelRef?: string | null;
}

export interface RoundInput {
  campaignId: string;
  /** 0: evaluate the base model only. n >= 1: a self-improvement round. */
  round: number;
  config: CampaignConfig;
  inputs: CampaignInputs;
  /** The model this round samples from and fine-tunes: the best promoted so far. */
  modelRef: string;
  /** The gate's reference: the best greedy accuracy so far (null in round 0). */
  bestAccuracy: number | null;
  /** Start paused (the campaign was paused when it continued as new). */
  paused?: boolean;
  /** The student's current model when distilling (config `student`). */
  studentModelRef?: string | null;
  /** The previous round's vote records and evaluation scores (the health's agreement), if any. */
  previous?: { votesRef: string | null; evaluationDetailsRef: string | null } | null;
  /** The base model's evaluated health (round 0): gate.labelFree's reference for length drift. */
  baseHealth?: LabelFreeHealth | null;
}

export interface GateDecision {
  promoted: boolean;
  accuracy: number;
  best: number | null;
  tolerance: number;
  reason: string;
  /** gate.labelFree saw the round's model collapse: why. The campaign stops after this round. */
  collapse?: string;
}

export interface ModelEvaluation {
  shards: ShardResult[];
  summary: EvaluationSummary;
}

/** A round's whole lineage: every artifact it read and wrote, with the stats of each step. */
export interface RoundResult {
  round: number;
  /** What the round ran with, for lmsi audit (optional: results recorded before they existed lack them). */
  config?: CampaignConfig;
  task?: TaskRef;
  /** The unlabeled pool it sampled (with any self-generated questions), null in round 0. */
  datasetRef?: string | null;
  evalRef?: string;
  modelIn: string;
  /** The fine-tuned model (round 0: the base model). */
  modelOut: string;
  exemplarsRef: string | null;
  /** The paper's self-generated questions added to this round's pool (null when off). */
  generatedQuestions: GeneratedQuestionsResult | null;
  sampling: {
    shards: ShardResult[];
    questions: number;
    paths: number;
  } | null;
  vote: VoteAndFilterResult | null;
  trainingSet: TrainingSetResult | null;
  /** strategy 'ttrl': the rewarded paths the round's GRPO update trained on (absent otherwise). */
  policySet?: PolicySetResult | null;
  /** Fine-tuning (strategy 'lmsi') or the GRPO update (strategy 'ttrl'). */
  training: FineTuneResult | null;
  evaluation: ModelEvaluation;
  /** Distillation: the student fine-tuned on this round's self-training set, and its scores. */
  student: {
    modelIn: string;
    modelOut: string;
    training: FineTuneResult | null;
    evaluation: ModelEvaluation;
  } | null;
  gate: GateDecision;
  startedAt: string;
  finishedAt: string;
  /**
   * The round's record (RoundRecord) in the artifact store, which the round wrote itself before it
   * returned; the record holds the result without this field. Absent in rounds run before rounds
   * recorded themselves (their campaign recorded them).
   */
  recordRef?: string;
}

export interface RoundProgress {
  round: number;
  step: RoundStep;
  done: number;
  total: number;
}

/**
 * A round's whole lineage (its RoundResult) as an immutable artifact: the one place its lineage is
 * read from once the round is done. Temporal deletes closed workflows after the namespace's
 * retention period, and campaigns run for days; the report, the audit and the status of a campaign
 * read its rounds from these records, which live as long as the artifact store does.
 */
export interface RoundRecord {
  kind: 'lmsi.round-result';
  version: 1;
  campaignId: string;
  /** The round's workflow id (`<campaignId>/round-<n>`), which may no longer exist in Temporal. */
  workflowId: string;
  result: RoundResult;
}

/** Child workflow id of a round. */
export function roundWorkflowId(campaignId: string, round: number): string {
  return `${campaignId}/round-${round}`;
}
