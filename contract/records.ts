import type { DropReason } from '../method/filter';
import type { SampledPath, TrainingExample } from '../method/types';

/**
 * The shapes of the JSONL artifacts a round writes, one line per question unless noted. They are the
 * audit trail: `lmsi audit` reads them back.
 */

/** One sampled path as stored (the question id is on the enclosing record). */
export interface StoredPath {
  pathIndex: number;
  text: string;
  sumLogprob: number;
  finishReason: SampledPath['finishReason'];
  tokens: number;
}

/** Why a question was not sampled: its prompt leaves no room for one new token in the model's context. */
export interface SkippedPrompt {
  reason: 'prompt-longer-than-context';
  promptTokens: number;
  maxPositions: number;
}

/**
 * What the sampler said about one question's context, on a shard's line. `skipped` lines stay in the
 * shard's draft (a retry does not try them again) and are left out of the sealed shard: the shard's
 * result lists them instead. `clippedMaxNewTokens`: the new tokens its paths were allowed, when the
 * context ended before maxNewTokens did.
 */
export interface ContextNotes {
  skipped?: SkippedPrompt;
  clippedMaxNewTokens?: number;
}

/** A sampling shard's line: a question's m paths. */
export interface QuestionSamples extends ContextNotes {
  questionId: string;
  prompt: string;
  paths: StoredPath[];
}

/** An evaluation shard's line: the greedy path and the m sampled paths of a labeled question. */
export interface QuestionEvaluation extends ContextNotes {
  questionId: string;
  greedy: StoredPath | null;
  paths: StoredPath[];
}

/** A path the filter did not keep, and the first of its checks that dropped it (method/filter.ts). */
export interface DroppedPath {
  pathIndex: number;
  reason: DropReason;
}

/** The votes artifact's line: how a question was voted and what the filter kept. */
export interface VoteRecord {
  questionId: string;
  answer: string | null;
  votes: number;
  m: number;
  confidence: number;
  abstentions: number;
  tally: { answer: string; votes: number }[];
  keptPathIndexes: number[];
  /**
   * Every path the filter dropped, with why, so the audit reads the reason rather than running the
   * filter again. Absent in votes recorded before it: the audit then rebuilds the reason from the
   * round's filter options.
   */
  dropped?: DroppedPath[];
}

/** A line of the training set: a mixed-format example, or a replayed seed example. */
export type TrainingRecord = TrainingExample | (Omit<TrainingExample, 'format'> & { format: 'replay' });
