import type { ExecutionSettings } from './config';
import type { TaskRef } from './task';
import type { RoundTrainingSettings } from './training';

// strategy 'ttrl' (method/ttrl.ts): the round's policy set and its GRPO update.

/** The input of buildPolicySet: every question's trained paths, rewarded against its majority answer. */
export interface BuildPolicySetInput {
  datasetRef: string;
  shardRefs: string[];
  /** The round's VoteRecords (voteAndFilter): each question's majority answer over all m paths. */
  votesRef: string;
  task: TaskRef;
  /** ttrl.trainedPaths: the first this many paths of each question are trained. */
  trainedPaths: number;
}

/** One trained path of the policy set: a line of its JSONL artifact (the audit reads the rewards here). */
export interface PolicyRecord {
  questionId: string;
  pathIndex: number;
  /** The prompt exactly as the path was sampled from it (chat template applied when it was). */
  prompt: string;
  /** The path as sampled. */
  completion: string;
  /** Its normalised answer (null: it abstained) and its question's majority answer. */
  answer: string | null;
  majority: string | null;
  /** 1 when answer is the majority answer, else 0. */
  reward: number;
  /** GRPO's advantage: the reward normalised within the question's trained paths. */
  advantage: number;
}

export interface PolicySetResult {
  /** JSONL of PolicyRecords: only questions whose trained paths' rewards differ (the others have no signal). */
  ref: string;
  /** Trained paths in the set. */
  examples: number;
  /** Questions with trained paths, and those left out because every trained path earned the same reward. */
  questions: number;
  questionsWithoutSignal: number;
  /** Mean reward over every trained path, those without signal included (agreement with the majority). */
  meanReward: number;
}

/** The input of policyUpdate: the round's GRPO update of its model on the policy set. */
export interface PolicyUpdateInput extends Partial<ExecutionSettings> {
  campaignId: string;
  round: number;
  modelRef: string;
  policySetRef: string;
  /** The optimiser's settings: training's, as fine-tuning takes them. */
  training: Omit<RoundTrainingSettings, 'replayRatio'>;
  /** ttrl's ε and β, and the temperature the paths were sampled at (the ratio's policy). */
  grpo: { clipEpsilon: number; klBeta: number; temperature: number };
  seed: string;
}
