import { z } from 'zod';

/**
 * A Llama-family decoder's shape. The defaults are the embedded model (about 1M parameters), small
 * enough to train on a laptop CPU in minutes.
 */
export const LlamaConfigSchema = z
  .object({
    /** Tokens in the vocabulary (rows of the embedding). */
    vocabSize: z.number().int().positive().default(128),
    /** Width of the residual stream. */
    dModel: z.number().int().positive().default(128),
    /** Decoder blocks. */
    nLayers: z.number().int().positive().default(4),
    /** Query heads; dModel / nHeads is the head size and must be even (rotary pairs). */
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
  })
  .strict()
  .superRefine((c, ctx) => {
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
    if (c.nHeads % c.nKvHeads !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['nKvHeads'],
        message: `nHeads ${c.nHeads} is not divisible by nKvHeads ${c.nKvHeads}`,
      });
  });

export type LlamaConfig = z.infer<typeof LlamaConfigSchema>;

export function headDim(c: LlamaConfig): number {
  return c.dModel / c.nHeads;
}
