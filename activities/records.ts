import type { SampledPath } from '../method/types';

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

/** A sampling shard's line: a question's m paths. */
export interface QuestionSamples {
  questionId: string;
  prompt: string;
  paths: StoredPath[];
}

/** An evaluation shard's line: the greedy path and the m sampled paths of a labeled question. */
export interface QuestionEvaluation {
  questionId: string;
  greedy: StoredPath | null;
  paths: StoredPath[];
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
}

export function toSampledPath(questionId: string, p: StoredPath): SampledPath {
  return {
    questionId,
    pathIndex: p.pathIndex,
    text: p.text,
    sumLogprob: p.sumLogprob,
    finishReason: p.finishReason,
  };
}
