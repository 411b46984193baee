export { fineTune, type FineTuneOptions, type FineTuneProgress, type TrainOutput } from './fine-tune';
export { policyUpdate, type PolicyUpdateOptions } from './policy-update';
export {
  completionLogProbs,
  scoreCompletions,
  OLD_LOGPROBS_FILE,
  REF_LOGPROBS_FILE,
  type CompletionLogProbs,
  type CompletionLogProbsOptions,
  type ScoringLayout,
} from './log-probs';
export { FineTuneConfig, type FineTuneConfigInput } from './config';
export { readExamples, FineTuneExample, PolicyExample } from './examples';
export { TrainingAbortedError, NonFiniteLossError } from './errors';
export { learningRateAt } from './schedule';
export { listCheckpoints, checkpointDirName } from './checkpoints';
export {
  tokenizeExamples,
  autoSeqLen,
  fitToLength,
  MAX_AUTO_SEQ_LEN,
  packRows,
  BEST_FIT_WINDOW,
  type Packing,
  buildMicroBatch,
  DataPlan,
  type Sequence,
  type MicroBatch,
} from './batches';
export { TrainingRunner, type RunnerOptions } from './runner';
