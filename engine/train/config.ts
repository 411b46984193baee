import { z } from 'zod';
import { LoraConfig } from '../model/lora';
import { GrpoConfig } from '../model/policy-loss';
import { AdamWConfig } from '../model/training-graph';

const adamw = AdamWConfig.shape;

/** A fine-tuning run's settings. Everything but the three checkpoint/eval cadences affects the weights. */
export const FineTuneConfig = z
  .object({
    /** Optimiser steps; or give `epochs` (passes over the examples) instead. */
    steps: z.number().int().positive().optional(),
    epochs: z.number().int().positive().optional(),
    /** Peak learning rate, reached after the warmup. */
    learningRate: z.number().positive(),
    /** Linear warmup from 0 over this many steps, then cosine decay to minLearningRateRatio × peak. */
    warmupSteps: z.number().int().nonnegative().default(0),
    minLearningRateRatio: z.number().min(0).max(1).default(0.1),
    /** Rows of seqLen tokens per micro-batch (one session.run). */
    batchSize: z.number().int().positive(),
    /** Micro-batches per optimiser step: the step sees batchSize × gradientAccumulation rows. */
    gradientAccumulation: z.number().int().positive().default(1),
    weightDecay: adamw.weightDecay,
    beta1: adamw.beta1,
    beta2: adamw.beta2,
    eps: adamw.eps,
    maxGradNorm: adamw.maxGradNorm,
    /**
     * Tokens per row (the packing length). Default: the longest example's rounded up to a multiple
     * of 64, at most 1024 and the model's context (batches.ts autoSeqLen). A longer example has its
     * prompt cut from the left; one whose completion alone does not fit is dropped (both counted).
     */
    seqLen: z.number().int().positive().optional(),
    /**
     * Several examples share a row (each attends only to itself and restarts its positions), so
     * short examples do not waste a row on padding. true = 'next-fit' (in data order);
     * 'best-fit' fills rows fuller within windows of the shuffled order (batches.ts); false: one
     * example per row. The default stays next-fit so runs saved before best-fit resume as they were.
     */
    packing: z.union([z.boolean(), z.enum(['next-fit', 'best-fit'])]).default(true),
    /** Seed of the data order (a number, or a name such as `campaign/round-2`). */
    seed: z.union([z.number().int(), z.string().min(1)]),
    /** Save a checkpoint every N steps (and always at the end). */
    checkpointEvery: z.number().int().positive().default(100),
    /** Evaluate the held-out loss every N steps (and at the start and end); default checkpointEvery. */
    evalEvery: z.number().int().positive().optional(),
    /** Periodic checkpoints kept on disk (older ones are deleted; the final one is always kept). */
    keepCheckpoints: z.number().int().positive().default(2),
    /**
     * 'full': every weight trains. 'lora': LoRA adapters (engine/model/lora.ts) train on frozen
     * weights, AdamW state for the adapters only; the result is the merged model with its adapters
     * in PEFT's layout beside it (adapter/).
     */
    method: z.enum(['full', 'lora']).default('full'),
    /** LoRA's rank, alpha, dropout and target modules (method 'lora'; defaults when absent). */
    lora: LoraConfig.optional(),
    /**
     * Recompute each decoder layer's activations in the backward pass instead of keeping them from
     * the forward pass: one more forward pass per step, the same results bit for bit; what it saves
     * is measured in docs/training-memory.md.
     */
    recompute: z.boolean().default(false),
    /**
     * 'sft': cross-entropy on the completions (the paper's step 5). 'grpo': a policy-gradient
     * update (TTRL): every example carries its path's advantage, the loss is the clipped surrogate
     * against the starting model's log-probabilities (engine/model/policy-loss.ts), and each
     * optimiser step takes one mini-batch of batchSize × gradientAccumulation rows.
     */
    loss: z.enum(['sft', 'grpo']).default('sft'),
    /** ε, β and the sampling temperature of loss 'grpo' (defaults when absent). */
    grpo: GrpoConfig.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.steps === undefined) === (c.epochs === undefined))
      ctx.addIssue({ code: 'custom', path: ['steps'], message: 'give exactly one of steps and epochs' });
    if (c.grpo !== undefined && c.loss !== 'grpo')
      ctx.addIssue({ code: 'custom', path: ['grpo'], message: "GRPO options need loss 'grpo'" });
    if (c.lora !== undefined && c.method !== 'lora')
      ctx.addIssue({ code: 'custom', path: ['lora'], message: "LoRA options need method 'lora'" });
    if (c.steps !== undefined && c.warmupSteps > c.steps)
      ctx.addIssue({
        code: 'custom',
        path: ['warmupSteps'],
        message: `${c.warmupSteps} warmup steps exceed the ${c.steps} steps of the run`,
      });
  });

export type FineTuneConfigInput = z.input<typeof FineTuneConfig>;
export type FineTuneConfig = z.output<typeof FineTuneConfig>;

/**
 * Fields that only say when to save or evaluate, or how the same steps are computed: a resumed run
 * may change them.
 */
export const CADENCE_FIELDS: readonly (keyof FineTuneConfig)[] = [
  'checkpointEvery',
  'evalEvery',
  'keepCheckpoints',
  'recompute',
];
