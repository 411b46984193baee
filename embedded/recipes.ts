import type { ArithRecipe } from './arith-base-model';

/**
 * The tiny base model: ~0.1M parameters, 2-step problems, trained in under a minute on 2 cores. What
 * examples/tiny.config.json runs on and what the tests' pretrained model is.
 */
export const TINY_RECIPE: ArithRecipe = {
  name: 'tiny-arith-v2',
  seed: 11,
  sizes: { train: 300, unlabeled: 40, eval: 24 },
  knobs: { minSteps: 2, maxSteps: 2, minDigits: 1, maxDigits: 1 },
  model: { dModel: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 128, maxSeqLen: 192 },
  training: {
    steps: 500,
    batchSize: 8,
    seqLen: 192,
    learningRate: 3e-3,
    warmupSteps: 20,
    checkpointEvery: 1000,
  },
};

/**
 * The demo's base model, "easy to hard": 8 000 labeled seed problems, 90 % of 2–3 steps and 10 % of
 * 4 steps, each rationale in one of the valid solution orders (left to right, additions first,
 * subtractions first); the unlabeled pool and the evaluation set are 4-step problems only, so the
 * rounds teach the model what the seed set barely showed it. Terse problems ("ann has 5 apples, buys
 * 3, loses 2. how many now?") keep an example near 150 characters, so the ~1M model's 16 000 problem
 * passes fit in minutes on 2 CPU cores. How it scores: demo/README.md; the drafts before it:
 * docs/demo-history.md.
 * maxSeqLen 352 leaves room for the few-shot formats (one exemplar) in the ablations; the seed
 * examples are packed into rows of 224 tokens.
 */
export const DEMO_RECIPE: ArithRecipe = {
  name: 'demo-arith-v2',
  seed: 2026,
  sizes: { train: 800, unlabeled: 300, eval: 200 },
  knobs: { minSteps: 4, maxSteps: 4, minDigits: 1, maxDigits: 1, style: 'terse' },
  extraTrain: [
    { count: 7200, knobs: { minSteps: 2, maxSteps: 3, minDigits: 1, maxDigits: 1, style: 'terse' } },
  ],
  directFraction: 0.25,
  model: { dModel: 128, nLayers: 4, nHeads: 4, nKvHeads: 2, dFF: 512, maxSeqLen: 352 },
  training: {
    epochs: 2,
    batchSize: 16,
    seqLen: 224,
    learningRate: 3e-3,
    warmupSteps: 30,
    weightDecay: 0.01,
    checkpointEvery: 10000,
  },
};

/** `--quick`: a tiny model and a handful of questions, to check the whole path end to end. */
export const QUICK_RECIPE: ArithRecipe = {
  name: 'demo-quick-v2',
  seed: 11,
  sizes: { train: 30, unlabeled: 24, eval: 16 },
  knobs: { minSteps: 3, maxSteps: 3, minDigits: 1, maxDigits: 1, style: 'terse' },
  extraTrain: [
    { count: 270, knobs: { minSteps: 2, maxSteps: 2, minDigits: 1, maxDigits: 1, style: 'terse' } },
  ],
  model: { dModel: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 128, maxSeqLen: 256 },
  training: {
    steps: 300,
    batchSize: 8,
    seqLen: 256,
    learningRate: 3e-3,
    warmupSteps: 20,
    checkpointEvery: 1000,
  },
};

/**
 * Base models a fresh clone can build on its own (`lmsi model init --recipe <name>`): a small
 * Llama-family model trained from scratch on labeled arith seed problems, with the unlabeled and
 * evaluation splits its campaigns run on.
 */
export const MODEL_RECIPES: Record<string, { recipe: ArithRecipe; about: string }> = {
  tiny: {
    about: '~0.1M parameters, 2-step problems, under a minute on 2 cores (examples/tiny.config.json)',
    recipe: TINY_RECIPE,
  },
  quick: { about: "the demo's --quick model", recipe: QUICK_RECIPE },
  demo: { about: "the demo's easy-to-hard base model (minutes)", recipe: DEMO_RECIPE },
};
