import type { FormatName } from '../method/types';
import type { ChatTemplateMode, ExecutionSettings, TrainingSettings } from './config';
import type { TaskRef } from './task';

/** The input of buildTrainingSet: the paper's step 4 (mixed formats) over the kept paths. */
export interface BuildTrainingSetInput {
  keptRef: string;
  datasetRef: string;
  exemplarsRef: string | null;
  formats: FormatName[];
  task: TaskRef;
  seed: string;
  /** Labeled seed examples {prompt, completion} replayed beside the self-generated ones. */
  replayRef: string | null;
  /** Replayed examples per self-generated example (training.replayRatio). */
  replayRatio: TrainingSettings['replayRatio'];
}

export interface TrainingSetResult {
  ref: string;
  examples: number;
  perFormat: Record<string, number>;
  replayed: number;
}

/**
 * One round's training settings: the config's, with the `fromRound` overrides up to that round
 * applied (workflows/round.ts trainingForRound). `packing` is absent in campaigns started before
 * the field (the engine's default, next-fit, then).
 */
export type RoundTrainingSettings = Omit<TrainingSettings, 'fromRound' | 'packing'> &
  Partial<Pick<TrainingSettings, 'packing'>>;

/** The input of fineTune: the paper's step 5 for the round's teacher, or its distilled student. */
export interface FineTuneInput {
  campaignId: string;
  round: number;
  /** Which model of the round is trained (the self-improving teacher, or a distilled student). */
  role?: 'teacher' | 'student';
  modelRef: string;
  trainingSetRef: string;
  /** The round's training settings (replayRatio is buildTrainingSet's, not fine-tuning's). */
  training: Omit<RoundTrainingSettings, 'replayRatio'>;
  seed: string;
  /** prompting.chatTemplate; absent in campaigns started before it (raw prompts). */
  chatTemplate?: ChatTemplateMode;
  /** model.executionProvider and allowCpuFallback; absent in rounds scheduled before training honoured them (cpu). */
  executionProvider?: ExecutionSettings['executionProvider'];
  allowCpuFallback?: ExecutionSettings['allowCpuFallback'];
}

/** The result of the fineTune activity (the engine's own result is engine/train's TrainOutput). */
export interface FineTuneResult {
  /** The fine-tuned model (a tree artifact), or the input model when there was nothing to train on. */
  modelRef: string;
  trained: boolean;
  steps: number;
  examples: number;
  finalLoss: number | null;
  /** Training loss per step, thinned to at most 200 points (JSON artifact: the full curve). */
  lossCurve: { step: number; loss: number }[];
  lossCurveRef: string | null;
  tokensSeen: number;
  /** The step the last attempt resumed from (0: started fresh). */
  resumedFromStep: number;
}

/** The resume point in fine-tuning's heartbeat: the last checkpoint, stored as a tree artifact, and its step. */
export interface FineTuneCursor {
  checkpointRef: string;
  step: number;
}

/**
 * What fine-tuning heartbeats after every step: the resume point once a checkpoint exists, and
 * where the run is (what `lmsi status` and the demo's progress bar show during a round's train step).
 */
export type FineTuneHeartbeat = Partial<FineTuneCursor> & {
  progress: { step: number; totalSteps: number; loss: number };
};
