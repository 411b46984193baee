import { z } from 'zod';

/**
 * Rotary position scaling, as Hugging Face's `rope_scaling` (`rope_type` or the older `type`) names its
 * kinds. `factor` stretches the trained context; the other fields are each kind's own knobs, with
 * transformers' defaults when absent (engine/model/rope.ts).
 */
export const RopeScaling = z.discriminatedUnion('type', [
  z.object({ type: z.literal('linear'), factor: z.number().positive() }).strict(),
  z.object({ type: z.literal('dynamic'), factor: z.number().positive() }).strict(),
  z
    .object({
      type: z.literal('llama3'),
      factor: z.number().positive(),
      lowFreqFactor: z.number().positive(),
      highFreqFactor: z.number().positive(),
      originalMaxPositionEmbeddings: z.number().int().positive(),
    })
    .strict(),
  z
    .object({
      type: z.literal('yarn'),
      factor: z.number().positive(),
      /** The context the model was pretrained with; absent: max_position_embeddings. */
      originalMaxPositionEmbeddings: z.number().int().positive().optional(),
      attentionFactor: z.number().positive().optional(),
      betaFast: z.number().positive().optional(),
      betaSlow: z.number().positive().optional(),
      mscale: z.number().optional(),
      mscaleAllDim: z.number().optional(),
      truncate: z.boolean().optional(),
    })
    .strict(),
]);
export type RopeScaling = z.infer<typeof RopeScaling>;

/** The Hugging Face model families one definition covers (config.json `model_type`). */
export const MODEL_FAMILIES = ['llama', 'mistral', 'qwen2', 'qwen3'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/**
 * A Llama-family decoder's shape, with the switches by which Hugging Face's Llama, Mistral, Qwen2 and
 * Qwen3 differ. The defaults are the embedded model (about 1M parameters), small enough to train on a
 * laptop CPU in minutes; every switch defaults to plain Llama.
 */
export const LlamaConfig = z
  .object({
    /** Tokens in the vocabulary (rows of the embedding). */
    vocabSize: z.number().int().positive().default(128),
    /** Width of the residual stream. */
    dModel: z.number().int().positive().default(128),
    /** Decoder blocks. */
    nLayers: z.number().int().positive().default(4),
    /** Query heads. */
    nHeads: z.number().int().positive().default(4),
    /** Key/value heads (grouped-query attention); divides nHeads. nKvHeads = nHeads is plain MHA. */
    nKvHeads: z.number().int().positive().default(2),
    /** Hidden width of the SwiGLU MLP. */
    dFF: z.number().int().positive().default(512),
    /** Longest sequence (prompt + completion) the model is trained and sampled with. */
    maxSeqLen: z.number().int().positive().default(256),
    /** Rotary embedding base. */
    ropeTheta: z.number().positive().default(10000),
    /** RMSNorm epsilon. */
    rmsNormEps: z.number().positive().default(1e-5),
    /** The LM head reuses the token embedding (no separate lm_head weight). */
    tieEmbeddings: z.boolean().default(true),
    /** Which Hugging Face family the checkpoint is (its config.json model_type). */
    family: z.enum(MODEL_FAMILIES).default('llama'),
    /** Size of one attention head; absent: dModel / nHeads (Qwen3 states its own). Even (rotary pairs). */
    headDim: z.number().int().positive().optional(),
    /** q_proj, k_proj and v_proj carry biases (Qwen2; Llama's and Qwen3's attention_bias). */
    qkvBias: z.boolean().default(false),
    /** o_proj carries a bias (Llama's and Qwen3's attention_bias; never Qwen2). */
    outputBias: z.boolean().default(false),
    /** gate_proj, up_proj and down_proj carry biases (Llama's mlp_bias). */
    mlpBias: z.boolean().default(false),
    /** RMSNorm of each query and key head over head_dim, before rotary (Qwen3's q_norm, k_norm). */
    qkNorm: z.boolean().default(false),
    /** Rotary scaling (Hugging Face rope_scaling); null: plain rotary. */
    ropeScaling: RopeScaling.nullable().default(null),
    /** A query sees only the keys fewer than this many positions back (Mistral); null: all earlier keys. */
    slidingWindow: z.number().int().positive().nullable().default(null),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.headDim === undefined) {
      if (c.dModel % c.nHeads !== 0)
        ctx.addIssue({
          code: 'custom',
          path: ['nHeads'],
          message: `dModel ${c.dModel} is not divisible by nHeads ${c.nHeads}`,
        });
      else if ((c.dModel / c.nHeads) % 2 !== 0)
        ctx.addIssue({
          code: 'custom',
          path: ['nHeads'],
          message: `head size ${c.dModel / c.nHeads} must be even for rotary embedding`,
        });
    } else if (c.headDim % 2 !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['headDim'],
        message: `head size ${c.headDim} must be even for rotary embedding`,
      });
    if (c.nHeads % c.nKvHeads !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['nKvHeads'],
        message: `nHeads ${c.nHeads} is not divisible by nKvHeads ${c.nKvHeads}`,
      });
  });

export type LlamaConfig = z.infer<typeof LlamaConfig>;

export function headDim(c: LlamaConfig): number {
  return c.headDim ?? c.dModel / c.nHeads;
}
