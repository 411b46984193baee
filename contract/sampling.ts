import type { SampledPath } from '../method/types';
import type { ChatTemplateMode, ExecutionSettings, SamplingSettings } from './config';
import type { SkippedPrompt } from './records';
import type { SamplingPromptKind, TaskRef } from './task';

/**
 * How paths are sampled: the config's sampling options (defaults in config/campaign.ts, nowhere
 * else) and prompting.chatTemplate.
 */
export type SamplingParams = Pick<
  SamplingSettings,
  'm' | 'temperature' | 'topK' | 'topP' | 'maxNewTokens' | 'stop'
> & {
  /** prompting.chatTemplate; absent in campaigns started before it (raw prompts). */
  chatTemplate?: ChatTemplateMode;
};

/** The input of samplePaths: one shard of a dataset snapshot. */
export interface ShardInput extends ExecutionSettings {
  /** For logs and the audit trail (the draft is named by the shard's content, see shardDraftName). */
  campaignId: string;
  round: number;
  shard: number;
  datasetRef: string;
  /** Questions [start, end) of the dataset. */
  start: number;
  end: number;
  modelRef: string;
  task: TaskRef;
  prompt: SamplingPromptKind;
  /** JSON artifact of exemplar sets (few-shot CoT), or null. */
  exemplarsRef: string | null;
  sampling: SamplingParams;
  /** Root of every random stream of this shard (the sampler derives per question and path). */
  seed: string;
  /** Prompts per sampler call (default 8); each finished prompt is persisted at once. */
  promptsPerCall?: number;
}

/** The input of evaluateShard. */
export interface EvaluationShardInput extends ShardInput {
  /** Also decode each question greedily (greedy accuracy). */
  greedy: boolean;
}

/** The result of samplePaths and evaluateShard. */
export interface ShardResult {
  ref: string;
  questions: number;
  paths: number;
  finishReasons: Record<SampledPath['finishReason'], number>;
  /** Questions found already finished in the draft when this attempt started (resumed work). */
  resumedQuestions: number;
  /**
   * Questions not sampled because their prompt is longer than the model's context (not in `ref`, not
   * counted in `questions`). Absent in results recorded before prompts were skipped.
   */
  skipped?: SkippedQuestion[];
  /**
   * Questions whose paths were allowed fewer than maxNewTokens new tokens because the model's context
   * ended first, and the fewest any of them was allowed; null when none was clipped.
   */
  clipped?: { questions: number; fewestNewTokens: number } | null;
}

export interface SkippedQuestion extends SkippedPrompt {
  questionId: string;
}

/** What a sampling shard heartbeats: how many of its questions are safely in its draft. */
export interface ShardCursor {
  done: number;
}
