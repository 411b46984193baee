import type { ArithRecipe } from './arith-base-model';

/**
 * The demo's base model, "easy to hard": labeled seed problems of 2–3 steps plus some of 4 steps;
 * the unlabeled pool and the evaluation set are 4-step problems only, so the rounds teach the model
 * what the seed set barely showed it. One-digit amounts and a ~0.56M-parameter model keep the build
 * within a few minutes on 2 CPU cores (measured here: ~3.3k training tokens/s at seqLen 320 for this
 * size against ~1.4k for the 1M default).
 */
export const DEMO_RECIPE: ArithRecipe = {
  name: 'demo-arith-v1',
  seed: 2026,
  sizes: { train: 150, unlabeled: 200, eval: 100 },
  knobs: { minSteps: 4, maxSteps: 4, minDigits: 1, maxDigits: 1 },
  extraTrain: [{ count: 1350, knobs: { minSteps: 2, maxSteps: 3, minDigits: 1, maxDigits: 1 } }],
  model: { dModel: 96, nLayers: 4, nHeads: 4, nKvHeads: 2, dFF: 384, maxSeqLen: 320 },
  training: {
    epochs: 2,
    batchSize: 8,
    seqLen: 320,
    learningRate: 3e-3,
    warmupSteps: 30,
    weightDecay: 0.01,
    checkpointEvery: 1000,
  },
};

/** `--quick`: a tiny model and a handful of questions, to check the whole path end to end. */
export const QUICK_RECIPE: ArithRecipe = {
  name: 'demo-quick-v1',
  seed: 11,
  sizes: { train: 30, unlabeled: 24, eval: 16 },
  knobs: { minSteps: 3, maxSteps: 3, minDigits: 1, maxDigits: 1 },
  extraTrain: [{ count: 270, knobs: { minSteps: 2, maxSteps: 2, minDigits: 1, maxDigits: 1 } }],
  model: { dModel: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 128, maxSeqLen: 256 },
  training: { steps: 300, batchSize: 8, learningRate: 3e-3, warmupSteps: 20, checkpointEvery: 1000 },
};
