import * as path from 'node:path';
import { buildArithBaseModel, type ArithBaseModel, type ArithRecipe } from '../../demo/arith-base-model';
import { createBaseModel } from '../../engine/checkpoint';

/** A randomly initialised tiny checkpoint: enough for tests about orchestration. */
export function writeRandomTinyModel(dir: string, seed = 1): string {
  return createBaseModel({
    config: { dModel: 32, nLayers: 1, nHeads: 4, nKvHeads: 2, dFF: 64, maxSeqLen: 320 },
    seed,
    dir,
  });
}

/**
 * A tiny model trained briefly on arith seed examples: it writes "... The answer is N." often enough
 * that votes agree and rounds have paths to keep and fine-tune on. Cached under tmp/ (git-ignored).
 */
export const TINY_ARITH_RECIPE: ArithRecipe = {
  name: 'tiny-arith-v2',
  seed: 11,
  sizes: { train: 300, unlabeled: 40, eval: 24 },
  knobs: { minSteps: 2, maxSteps: 2, minDigits: 1, maxDigits: 1 },
  model: { dModel: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 128, maxSeqLen: 192 },
  training: { steps: 500, batchSize: 8, learningRate: 3e-3, warmupSteps: 20, checkpointEvery: 1000 },
};

export function pretrainedTinyModel(): Promise<ArithBaseModel> {
  return buildArithBaseModel(path.resolve(__dirname, '../../tmp/test-models'), TINY_ARITH_RECIPE);
}
