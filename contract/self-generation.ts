import type { ExecutionSettings, SamplingSettings } from './config';
import type { SamplingParams } from './sampling';
import type { TaskRef } from './task';

/** The input of generateExemplars: the paper's self-generated few-shot CoT exemplars. */
export interface GenerateExemplarsInput extends ExecutionSettings {
  datasetRef: string;
  /** The first `candidates` unlabeled questions are sampled with zero-shot CoT. */
  candidates: number;
  modelRef: string;
  task: TaskRef;
  sampling: SamplingParams;
  templates: number;
  shots: number;
  seed: string;
}

/** The input of generateQuestions: the paper's self-generated questions. */
export interface GenerateQuestionsInput
  extends ExecutionSettings, Pick<SamplingSettings, 'temperature' | 'maxNewTokens'> {
  campaignId: string;
  round: number;
  /** The unlabeled pool the new questions join (and are deduplicated against). */
  datasetRef: string;
  modelRef: string;
  task: TaskRef;
  /** Prompts to sample (each shows `shots` pool questions and asks for a new one). */
  count: number;
  shots: number;
  seed: string;
}

export interface GeneratedQuestionsResult {
  /** The pool with the new questions appended (a dataset snapshot like snapshotDataset's). */
  ref: string;
  count: number;
  sampled: number;
  added: number;
  unparseable: number;
  duplicates: number;
  /** Prompts longer than the model's context even with one shot: skipped, nothing written. */
  tooLong?: number;
}

/**
 * What generateExemplars and generateQuestions heartbeat: how many candidates or prompts are done.
 * Progress only, not a resume point: their work is short and a retry starts over.
 */
export interface GenerationHeartbeat {
  done: number;
}
