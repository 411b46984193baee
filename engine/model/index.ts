export { LlamaConfig, headDim } from './config';
export { paramSpecs, initParams, parameterCount, type ParamSpec, type Params } from './params';
export { llamaForward, maskedCrossEntropy, type Weights, type KeyValue } from './llama';
export { buildInferenceGraph, DIMS } from './inference-graph';
export {
  buildTrainingGraph,
  buildAdamWGraph,
  ADAMW_IO,
  AdamWConfig,
  TRAIN_IO,
  type TrainingGraphOptions,
  type TrainingGraphMode,
  type TrainingLoss,
} from './training-graph';
export { GrpoConfig, type GrpoConfigInput, type GrpoInputs, grpoLoss, tokenLogProbs } from './policy-loss';
export {
  LoraConfig,
  LORA_MODULES,
  type LoraModule,
  loraSpecs,
  loraTargets,
  initLora,
  mergeLora,
  loraScaling,
  peftName,
  fromPeftName,
} from './lora';
export { trainableSpecs } from './training-graph';
export { HEAD_CHUNK_BYTES, headChunkRows } from './chunked-head';
export { ropeParameters } from './rope';
