// The model engine: ONNX graphs, autodiff, models, sampler, trainer, tokenizer, checkpoints.
export * from './tokenizer';
export * from './checkpoint';
export * as onnx from './onnx';
export * as model from './model';
export * as train from './train';
export * from './generate';
/**
 * TTRL / GRPO (issue 23): `policyUpdate` trains a checkpoint on sampled paths with per-path
 * advantages (clipped surrogate against the starting model, optional k3 KL, AdamW over mini-batches,
 * exact resume); `completionLogProbs` scores each completion token under a model, forward only.
 */
export { policyUpdate, type PolicyUpdateOptions } from './train/policy-update';
export {
  completionLogProbs,
  type CompletionLogProbs,
  type CompletionLogProbsOptions,
} from './train/log-probs';
export { PolicyExample } from './train/examples';
