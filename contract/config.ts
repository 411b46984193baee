import type { z } from 'zod';
import type {
  EvaluationConfig,
  FilteringConfig,
  ModelConfig,
  PromptingConfig,
  SamplingConfig,
  TrainingConfig,
  VotingConfig,
} from '../config/campaign';

/**
 * The config sections activities take, as the config schema (config/campaign.ts) parses them: each
 * option and its default are declared there once, and the activities' parameter types follow it.
 * The CLI and client parse the config at the boundary; activities trust these types.
 */
export type SamplingSettings = z.output<typeof SamplingConfig>;
export type PromptingSettings = z.output<typeof PromptingConfig>;
export type VotingSettings = z.output<typeof VotingConfig>;
export type FilteringSettings = z.output<typeof FilteringConfig>;
export type TrainingSettings = z.output<typeof TrainingConfig>;
export type EvaluationSettings = z.output<typeof EvaluationConfig>;
export type ModelSettings = z.output<typeof ModelConfig>;

/** prompting.chatTemplate: 'auto' prompts a model with a chat template in chat turns, 'none' with raw text. */
export type ChatTemplateMode = PromptingSettings['chatTemplate'];

/** Where a model activity runs its model (model.executionProvider, model.allowCpuFallback). */
export type ExecutionSettings = Pick<ModelSettings, 'executionProvider' | 'allowCpuFallback'>;
