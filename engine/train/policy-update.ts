import type { FineTuneConfigInput } from './config';
import type { PolicyExample } from './examples';
import { type FineTuneOptions, type TrainOutput, fineTune } from './fine-tune';

export interface PolicyUpdateOptions extends Omit<FineTuneOptions, 'examples' | 'evalExamples' | 'config'> {
  /** Sampled paths with their advantages: a JSONL file of {prompt, completion, advantage} lines, or the paths. */
  examples: string | readonly PolicyExample[];
  /**
   * fineTune's settings; `grpo` holds ε (clipEpsilon), β (klBeta) and the sampling temperature.
   * One optimiser step per mini-batch of batchSize × gradientAccumulation rows; `epochs` passes
   * over the paths (PPO epochs) or `steps`.
   */
  config: Omit<FineTuneConfigInput, 'loss'>;
}

/**
 * A GRPO policy update (TTRL's round update): fineTune with loss 'grpo'. Before step 1 the starting
 * model scores every completion token (π_old; also the KL reference unless `reference` names
 * another model, which is scored then too); then AdamW steps over
 * mini-batches minimise the clipped surrogate of engine/model/policy-loss.ts. Checkpoints carry the
 * log-probs, so a run resumed from any of them ends with the same weights as an uninterrupted one.
 */
export function policyUpdate(opts: PolicyUpdateOptions): Promise<TrainOutput> {
  return fineTune({ ...opts, config: { ...opts.config, loss: 'grpo' } });
}
