import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { BadInputError } from '../../base/errors';
import { LlamaConfig, MODEL_FAMILIES, type ModelFamily, type RopeScaling, headDim } from '../model/config';

/** Special token ids config.json states (Hugging Face reads them from there, not the tokenizer). */
export interface SpecialTokenIds {
  bos: number | null;
  eos: number | number[] | null;
  pad: number | null;
}

/** Each family's class in transformers: config.json `architectures`. */
export const ARCHITECTURES: Record<ModelFamily, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

/** What a user reads when a checkpoint is refused: the families, by the names people know them. */
export const SUPPORTED_MODELS =
  'llama (Llama 1/2/3.x, SmolLM/SmolLM2: LlamaForCausalLM), mistral (MistralForCausalLM), ' +
  'qwen2 (Qwen2/Qwen2.5: Qwen2ForCausalLM), qwen3 (Qwen3ForCausalLM)';

function ropeScalingJson(s: RopeScaling | null): Record<string, unknown> | null {
  if (s === null) return null;
  switch (s.type) {
    case 'linear':
    case 'dynamic':
      return { rope_type: s.type, factor: s.factor };
    case 'llama3':
      return {
        rope_type: 'llama3',
        factor: s.factor,
        low_freq_factor: s.lowFreqFactor,
        high_freq_factor: s.highFreqFactor,
        original_max_position_embeddings: s.originalMaxPositionEmbeddings,
      };
    case 'yarn':
      return Object.fromEntries(
        Object.entries({
          rope_type: 'yarn',
          factor: s.factor,
          original_max_position_embeddings: s.originalMaxPositionEmbeddings,
          attention_factor: s.attentionFactor,
          beta_fast: s.betaFast,
          beta_slow: s.betaSlow,
          mscale: s.mscale,
          mscale_all_dim: s.mscaleAllDim,
          truncate: s.truncate,
        }).filter(([, v]) => v !== undefined),
      );
  }
}

/**
 * config.json of a checkpoint: our model config with every field written out (defaults included, so
 * a later change of a default cannot change a saved model), plus the Hugging Face fields of its
 * family, so transformers, Optimum and our own sampler read the folder like any checkpoint of it.
 */
export function toConfigJson(c: LlamaConfig, ids: SpecialTokenIds): Record<string, unknown> {
  const family: Record<string, unknown> =
    c.family === 'llama'
      ? { attention_bias: c.qkvBias, mlp_bias: c.mlpBias }
      : c.family === 'mistral'
        ? { sliding_window: c.slidingWindow }
        : c.family === 'qwen2'
          ? { use_sliding_window: false, sliding_window: null }
          : { attention_bias: c.qkvBias, use_sliding_window: false, sliding_window: null };
  return {
    ...LlamaConfig.parse(c),
    architectures: [ARCHITECTURES[c.family]],
    model_type: c.family,
    hidden_size: c.dModel,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: headDim(c),
    intermediate_size: c.dFF,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxSeqLen,
    rope_theta: c.ropeTheta,
    rope_scaling: ropeScalingJson(c.ropeScaling),
    rms_norm_eps: c.rmsNormEps,
    tie_word_embeddings: c.tieEmbeddings,
    hidden_act: 'silu',
    ...family,
    attention_dropout: 0,
    initializer_range: 0.02,
    bos_token_id: ids.bos,
    eos_token_id: ids.eos,
    pad_token_id: ids.pad,
    torch_dtype: 'float32',
    use_cache: true,
  };
}

const positiveInt = z.number().int().positive();

/** rope_scaling (or transformers 5's rope_parameters) as Hugging Face writes it. */
const HfRope = z
  .object({
    rope_type: z.string().optional(),
    type: z.string().optional(),
    rope_theta: z.number().positive().optional(),
    factor: z.number().positive().optional(),
    low_freq_factor: z.number().positive().optional(),
    high_freq_factor: z.number().positive().optional(),
    original_max_position_embeddings: positiveInt.optional(),
    attention_factor: z.number().positive().nullable().optional(),
    beta_fast: z.number().positive().nullable().optional(),
    beta_slow: z.number().positive().nullable().optional(),
    mscale: z.number().nullable().optional(),
    mscale_all_dim: z.number().nullable().optional(),
    truncate: z.boolean().optional(),
  })
  .loose();

/** The Hugging Face fields we read; the rest of what a family writes is ignored. */
const HfConfig = z
  .object({
    model_type: z.string(),
    architectures: z.array(z.string()).nullable().optional(),
    hidden_size: positiveInt,
    num_hidden_layers: positiveInt,
    num_attention_heads: positiveInt,
    num_key_value_heads: positiveInt.nullable().optional(),
    head_dim: positiveInt.nullable().optional(),
    intermediate_size: positiveInt,
    vocab_size: positiveInt,
    max_position_embeddings: positiveInt,
    rope_theta: z.number().positive().optional(),
    rope_scaling: HfRope.nullable().optional(),
    rope_parameters: HfRope.nullable().optional(),
    partial_rotary_factor: z.literal(1).optional(),
    rms_norm_eps: z.number().positive(),
    tie_word_embeddings: z.boolean().default(false),
    hidden_act: z.literal('silu').default('silu'),
    attention_bias: z.boolean().default(false),
    mlp_bias: z.boolean().default(false),
    sliding_window: positiveInt.nullable().optional(),
    use_sliding_window: z.boolean().optional(),
    max_window_layers: z.number().int().nonnegative().optional(),
    layer_types: z.array(z.string()).nullable().optional(),
  })
  .loose();
type HfConfig = z.infer<typeof HfConfig>;

type Fail = (field: string, problem: string) => never;

function ropeScalingFromHf(h: HfConfig, fail: Fail): { theta: number; scaling: RopeScaling | null } {
  const params = h.rope_parameters ?? null;
  const r = h.rope_scaling ?? params;
  const field = h.rope_scaling ? 'rope_scaling' : 'rope_parameters';
  const theta = params?.rope_theta ?? h.rope_theta ?? 10000;
  const kind = r?.rope_type ?? r?.type ?? 'default';
  if (r === null || kind === 'default') return { theta, scaling: null };
  const need = <T>(value: T | undefined | null, key: string): T =>
    value === undefined || value === null ? fail(`${field}.${key}`, `required for rope type ${kind}`) : value;
  const factor = need(r.factor, 'factor');
  switch (kind) {
    case 'linear':
    case 'dynamic':
      return { theta, scaling: { type: kind, factor } };
    case 'llama3':
      return {
        theta,
        scaling: {
          type: 'llama3',
          factor,
          lowFreqFactor: need(r.low_freq_factor, 'low_freq_factor'),
          highFreqFactor: need(r.high_freq_factor, 'high_freq_factor'),
          originalMaxPositionEmbeddings: need(
            r.original_max_position_embeddings,
            'original_max_position_embeddings',
          ),
        },
      };
    case 'yarn': {
      const optional = {
        originalMaxPositionEmbeddings: r.original_max_position_embeddings,
        attentionFactor: r.attention_factor ?? undefined,
        betaFast: r.beta_fast ?? undefined,
        betaSlow: r.beta_slow ?? undefined,
        mscale: r.mscale ?? undefined,
        mscaleAllDim: r.mscale_all_dim ?? undefined,
        truncate: r.truncate,
      };
      return {
        theta,
        scaling: {
          type: 'yarn',
          factor,
          ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
        },
      };
    }
    default:
      return fail(
        `${field}.rope_type`,
        `${JSON.stringify(kind)} is not supported (supported: default, linear, dynamic, llama3, yarn)`,
      );
  }
}

/** The switches of each family, as transformers' modeling files set them from config.json. */
function familySwitches(family: ModelFamily, h: HfConfig, fail: Fail): Partial<LlamaConfig> {
  const noSliding = () => {
    // Qwen2/Qwen3 slide only on layers from max_window_layers on, and only with use_sliding_window.
    if (h.use_sliding_window && (h.max_window_layers ?? 0) < h.num_hidden_layers)
      fail('use_sliding_window', 'sliding-window attention on some layers of a Qwen model is not supported');
    if (h.layer_types?.some((t) => t !== 'full_attention'))
      fail('layer_types', 'only full_attention layers are supported in a Qwen model');
  };
  switch (family) {
    case 'llama':
      return { qkvBias: h.attention_bias, outputBias: h.attention_bias, mlpBias: h.mlp_bias };
    case 'mistral':
      return { slidingWindow: h.sliding_window ?? null };
    case 'qwen2':
      noSliding();
      return { qkvBias: true };
    case 'qwen3':
      noSliding();
      return { qkvBias: h.attention_bias, outputBias: h.attention_bias, qkNorm: true };
  }
}

const OWN_FIELDS = Object.keys(LlamaConfig.shape) as (keyof LlamaConfig)[];

/**
 * The model config of a checkpoint's config.json. A Hugging Face config.json of a supported family
 * (Llama, Mistral, Qwen2, Qwen3) is read from its Hugging Face fields; one of ours also carries our
 * own fields, which must agree with them (a file edited on one side only is refused). Anything we
 * do not compute as transformers does is refused here by name, before any work.
 */
export function parseConfigJson(json: unknown, file: string): LlamaConfig {
  const fail: Fail = (field, problem) => {
    throw new BadInputError(file, null, field, problem);
  };
  const hf = HfConfig.safeParse(json);
  if (!hf.success) {
    const issue = hf.error.issues[0];
    fail(issue.path.join('.') || '(root)', issue.message);
  }
  const h = hf.data;
  const family = h.model_type as ModelFamily;
  if (!(MODEL_FAMILIES as readonly string[]).includes(family))
    fail('model_type', `${JSON.stringify(h.model_type)} is not supported; supported: ${SUPPORTED_MODELS}`);
  const architecture = h.architectures?.[0];
  if (architecture !== undefined && architecture !== ARCHITECTURES[family])
    fail(
      'architectures',
      `${JSON.stringify(architecture)} is not supported for model_type ${family}; supported: ${SUPPORTED_MODELS}`,
    );
  const rope = ropeScalingFromHf(h, fail);
  const stated = h.head_dim ?? (family === 'qwen3' ? 128 : null);
  const derived = h.hidden_size / h.num_attention_heads;
  const fromHfParsed = LlamaConfig.safeParse({
    vocabSize: h.vocab_size,
    dModel: h.hidden_size,
    nLayers: h.num_hidden_layers,
    nHeads: h.num_attention_heads,
    nKvHeads: h.num_key_value_heads ?? h.num_attention_heads,
    dFF: h.intermediate_size,
    maxSeqLen: h.max_position_embeddings,
    ropeTheta: rope.theta,
    rmsNormEps: h.rms_norm_eps,
    tieEmbeddings: h.tie_word_embeddings,
    family,
    // Stated only where it differs from hidden / heads, so our own checkpoints' configs stay as before.
    ...(stated !== null && stated !== derived ? { headDim: stated } : {}),
    ...familySwitches(family, h, fail),
    ropeScaling: rope.scaling,
  } satisfies z.input<typeof LlamaConfig>);
  if (!fromHfParsed.success) {
    const issue = fromHfParsed.error.issues[0];
    fail(issue.path.join('.') || '(root)', issue.message);
  }
  const fromHf = fromHfParsed.data;

  const record = json as Record<string, unknown>;
  const own = Object.fromEntries(OWN_FIELDS.filter((k) => k in record).map((k) => [k, record[k]]));
  if (Object.keys(own).length === 0) return fromHf;
  const parsed = LlamaConfig.safeParse({ ...fromHf, ...own });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(issue.path.join('.') || '(root)', issue.message);
  }
  const c = parsed.data;
  for (const key of OWN_FIELDS)
    if (!isDeepStrictEqual(c[key], fromHf[key]) && !(key === 'headDim' && headDim(c) === headDim(fromHf)))
      fail(
        key,
        `${JSON.stringify(c[key])} disagrees with the Hugging Face field (${JSON.stringify(fromHf[key])})`,
      );
  return c;
}
