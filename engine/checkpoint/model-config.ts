import { z } from 'zod';
import { BadInputError } from '../../method/errors';
import { type LlamaConfig, LlamaConfigSchema, headDim } from '../model/config';

/** Special token ids config.json states (Hugging Face reads them from there, not the tokenizer). */
export interface SpecialTokenIds {
  bos: number | null;
  eos: number | null;
  pad: number | null;
}

/**
 * config.json of a checkpoint: our model config with every field written out (defaults included, so
 * a later change of a default cannot change a saved model), plus the Hugging Face Llama fields, so
 * transformers, Optimum and our own sampler read the folder like any Llama checkpoint.
 */
export function toConfigJson(c: LlamaConfig, ids: SpecialTokenIds): Record<string, unknown> {
  return {
    ...LlamaConfigSchema.parse(c),
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dModel,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: headDim(c),
    intermediate_size: c.dFF,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxSeqLen,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    rms_norm_eps: c.rmsNormEps,
    tie_word_embeddings: c.tieEmbeddings,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    attention_dropout: 0,
    initializer_range: 0.02,
    bos_token_id: ids.bos,
    eos_token_id: ids.eos,
    pad_token_id: ids.pad,
    torch_dtype: 'float32',
    use_cache: true,
  };
}

/** The Hugging Face fields we read; a config.json written by transformers for a Llama passes too. */
const HfLlamaSchema = z
  .object({
    model_type: z.literal('llama'),
    hidden_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().optional(),
    head_dim: z.number().int().positive().optional(),
    intermediate_size: z.number().int().positive(),
    vocab_size: z.number().int().positive(),
    max_position_embeddings: z.number().int().positive(),
    rope_theta: z.number().positive().default(10000),
    rope_scaling: z.null().optional(),
    rms_norm_eps: z.number().positive(),
    tie_word_embeddings: z.boolean().default(false),
    hidden_act: z.literal('silu').default('silu'),
    attention_bias: z.literal(false).default(false),
    mlp_bias: z.literal(false).default(false),
  })
  .loose();

const OWN_FIELDS = Object.keys(LlamaConfigSchema.shape) as (keyof LlamaConfig)[];

/**
 * The model config of a checkpoint's config.json. Our own fields win where present, but must agree
 * with the Hugging Face fields (a file edited on one side only is refused); a plain Hugging Face
 * Llama config.json (no own fields) is read from its Hugging Face fields alone.
 */
export function parseConfigJson(json: unknown, file: string): LlamaConfig {
  const fail = (field: string, problem: string): never => {
    throw new BadInputError(file, null, field, problem);
  };
  const hf = HfLlamaSchema.safeParse(json);
  if (!hf.success) {
    const issue = hf.error.issues[0];
    fail(issue.path.join('.') || '(root)', issue.message);
  }
  const h = hf.data!;
  const fromHf = {
    vocabSize: h.vocab_size,
    dModel: h.hidden_size,
    nLayers: h.num_hidden_layers,
    nHeads: h.num_attention_heads,
    nKvHeads: h.num_key_value_heads ?? h.num_attention_heads,
    dFF: h.intermediate_size,
    maxSeqLen: h.max_position_embeddings,
    ropeTheta: h.rope_theta,
    rmsNormEps: h.rms_norm_eps,
    tieEmbeddings: h.tie_word_embeddings,
  };
  const record = json as Record<string, unknown>;
  const own = Object.fromEntries(OWN_FIELDS.filter((k) => k in record).map((k) => [k, record[k]]));
  const parsed = LlamaConfigSchema.safeParse({ ...fromHf, ...own });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(issue.path.join('.') || '(root)', issue.message);
  }
  const c = parsed.data!;
  for (const key of OWN_FIELDS)
    if (c[key] !== fromHf[key])
      fail(
        key,
        `${JSON.stringify(c[key])} disagrees with the Hugging Face field (${JSON.stringify(fromHf[key])})`,
      );
  if (h.head_dim !== undefined && h.head_dim !== headDim(c))
    fail('head_dim', `${h.head_dim} but hidden_size / num_attention_heads is ${headDim(c)}`);
  return c;
}
