export * from './safetensors';
export {
  CHECKPOINT_FILES,
  saveCheckpoint,
  loadCheckpoint,
  type Checkpoint,
  type OptimizerState,
} from './checkpoint';
export { createBaseModel, type BaseModelOptions } from './base-model';
export { TrainerState } from './trainer-state';
export { toConfigJson, parseConfigJson, type SpecialTokenIds } from './model-config';
export { replaceDirAtomically, isTemporaryDir } from './atomic';
export { checkModel, type ModelReport, type CheckOptions } from './check';
export { WEIGHTS_FILE, WEIGHTS_INDEX_FILE, type WeightsDtype } from './weights';
export { ARCHITECTURES, SUPPORTED_MODELS } from './model-config';
