import type { InferenceSession } from 'onnxruntime-node';

/** Cache dtypes the sampler can carry between steps. */
export type CacheDType = 'float32' | 'float16';

/**
 * What the sampler needs to know about a decoder graph, read from the session's own input and output
 * metadata (Optimum convention) rather than assumed from a model family.
 */
export interface DecoderSignature {
  layers: number;
  /** Feed names in layer order: [past_key_values.0.key, past_key_values.0.value, ...]. */
  pastNames: string[];
  /** Output names matching `pastNames`: [present.0.key, present.0.value, ...]. */
  presentNames: string[];
  cacheDType: CacheDType;
  kvHeads: number;
  headDim: number;
  logitsDType: CacheDType;
  /** Size of the logits' last axis; null when the graph leaves it symbolic (checked on first run). */
  logitsSize: number | null;
  hasPositionIds: boolean;
  /** Optimum's merged decoders take a boolean saying whether the past is real. */
  hasUseCacheBranch: boolean;
}

/** Fallbacks for cache dimensions that a graph leaves symbolic, from the folder's config.json. */
export interface CacheDimsHint {
  kvHeads?: number;
  headDim?: number;
}

type Meta = InferenceSession.ValueMetadata;

export function readDecoderSignature(
  session: InferenceSession,
  modelFile: string,
  hint: CacheDimsHint = {},
): DecoderSignature {
  const fail = (problem: string): never => {
    throw new Error(`${modelFile}: not an Optimum-convention decoder with a KV cache: ${problem}`);
  };
  const inputs = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const outputs = new Map(session.outputMetadata.map((m) => [m.name, m]));
  const tensor = (m: Meta | undefined, what: string) => {
    if (!m) return fail(`missing ${what}`);
    if (!m.isTensor) return fail(`${what} is not a tensor`);
    return m;
  };
  const floatType = (m: Meta, what: string): CacheDType => {
    const t = tensor(m, what).type;
    if (t !== 'float32' && t !== 'float16')
      return fail(`${what} is ${t}; only float32 and float16 are supported`);
    return t;
  };

  tensor(inputs.get('input_ids'), 'input input_ids');
  if (!inputs.has('attention_mask')) fail('missing input attention_mask (rows of different lengths need it)');
  const logits = tensor(outputs.get('logits'), 'output logits');
  const logitsDType = floatType(logits, 'output logits');
  const lastDim = logits.shape[logits.shape.length - 1];

  let layers = 0;
  while (inputs.has(`past_key_values.${layers}.key`)) layers++;
  if (layers === 0) fail('no past_key_values.0.key input');
  const pastNames: string[] = [];
  const presentNames: string[] = [];
  let cacheDType: CacheDType | null = null;
  let kvHeads: number | null = null;
  let headDim: number | null = null;
  for (let i = 0; i < layers; i++) {
    for (const part of ['key', 'value']) {
      const pastName = `past_key_values.${i}.${part}`;
      const presentName = `present.${i}.${part}`;
      const past = tensor(inputs.get(pastName), `input ${pastName}`);
      tensor(outputs.get(presentName), `output ${presentName}`);
      const dtype = floatType(past, `input ${pastName}`);
      if (cacheDType && dtype !== cacheDType)
        fail(`${pastName} is ${dtype} but earlier caches are ${cacheDType}`);
      cacheDType = dtype;
      if (past.shape.length !== 4)
        fail(`${pastName} has rank ${past.shape.length}, expected [batch, kv_heads, past, head_dim]`);
      const [, heads, , dim] = past.shape;
      if (typeof heads === 'number') {
        if (kvHeads !== null && heads !== kvHeads)
          fail(`${pastName} has ${heads} heads, earlier layers ${kvHeads}`);
        kvHeads = heads;
      }
      if (typeof dim === 'number') {
        if (headDim !== null && dim !== headDim)
          fail(`${pastName} has head size ${dim}, earlier layers ${headDim}`);
        headDim = dim;
      }
      pastNames.push(pastName);
      presentNames.push(presentName);
    }
  }
  kvHeads ??=
    hint.kvHeads ?? fail('KV head count is symbolic and config.json does not give num_key_value_heads');
  headDim ??= hint.headDim ?? fail('head size is symbolic and config.json does not give it');

  return {
    layers,
    pastNames,
    presentNames,
    cacheDType: cacheDType as CacheDType,
    kvHeads,
    headDim,
    logitsDType,
    logitsSize: typeof lastDim === 'number' ? lastDim : null,
    hasPositionIds: inputs.has('position_ids'),
    hasUseCacheBranch: inputs.has('use_cache_branch'),
  };
}
