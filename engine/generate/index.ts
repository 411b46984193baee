export { loadGenerationModel, findModelFile, type GenerationModel, type LoadOptions } from './load';
export {
  generatePaths,
  emptyTimings,
  type Completion,
  type PromptDone,
  type GeneratePathsRequest,
  type SampleTimings,
} from './generate-paths';
export { SampleOptions, type Prompt } from './options';
export {
  type ExecutionProvider,
  ExecutionProviderUnavailableError,
  cudaUnavailableReason,
  CUDA_PROVIDER_LIBRARIES,
} from './provider';
export { releaseSessions } from './session-cache';
export {
  releaseDecodeStepsSessions,
  decodeStepsUnavailable,
  DECODE_STEPS_MAX_WEIGHT_BYTES,
} from './decode-steps';
export { readDecoderSignature, type DecoderSignature, type CacheDType } from './signature';
export { chooseToken, type Choice } from './choose-token';
export { IncrementalDetokenizer, decodeCompletion } from './detokenize';
export * as processors from './processors';
