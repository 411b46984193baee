import { Rng } from '../../base/rng';
import { type LlamaConfig, headDim } from './config';

/**
 * The model's parameters, named and laid out as in Hugging Face's Llama (`model.layers.0.self_attn.
 * q_proj.weight`, linear weights `[out, in]`), so checkpoints read like any Llama checkpoint.
 */
export interface ParamSpec {
  name: string;
  shape: [number] | [number, number];
  /** AdamW decays matrices only, not norm gains or biases (as Hugging Face's Trainer). */
  decay: boolean;
  init: 'normal' | 'ones' | 'zeros';
}

export function paramSpecs(c: LlamaConfig): ParamSpec[] {
  const d = headDim(c);
  const q = c.nHeads * d;
  const kv = c.nKvHeads * d;
  const mat = (name: string, out: number, inp: number): ParamSpec => ({
    name,
    shape: [out, inp],
    decay: true,
    init: 'normal',
  });
  const gain = (name: string, size = c.dModel): ParamSpec => ({
    name,
    shape: [size],
    decay: false,
    init: 'ones',
  });
  const bias = (name: string, size: number): ParamSpec => ({
    name,
    shape: [size],
    decay: false,
    init: 'zeros',
  });
  /** A linear module's weight, and its bias when the config gives it one. */
  const linear = (name: string, out: number, inp: number, withBias: boolean): ParamSpec[] =>
    withBias
      ? [mat(`${name}.weight`, out, inp), bias(`${name}.bias`, out)]
      : [mat(`${name}.weight`, out, inp)];
  const specs: ParamSpec[] = [mat('model.embed_tokens.weight', c.vocabSize, c.dModel)];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}`;
    const a = `${p}.self_attn`;
    specs.push(
      gain(`${p}.input_layernorm.weight`),
      ...linear(`${a}.q_proj`, q, c.dModel, c.qkvBias),
      ...linear(`${a}.k_proj`, kv, c.dModel, c.qkvBias),
      ...linear(`${a}.v_proj`, kv, c.dModel, c.qkvBias),
      ...linear(`${a}.o_proj`, c.dModel, q, c.outputBias),
      ...(c.qkNorm ? [gain(`${a}.q_norm.weight`, d), gain(`${a}.k_norm.weight`, d)] : []),
      gain(`${p}.post_attention_layernorm.weight`),
      ...linear(`${p}.mlp.gate_proj`, c.dFF, c.dModel, c.mlpBias),
      ...linear(`${p}.mlp.up_proj`, c.dFF, c.dModel, c.mlpBias),
      ...linear(`${p}.mlp.down_proj`, c.dModel, c.dFF, c.mlpBias),
    );
  }
  specs.push(gain('model.norm.weight'));
  if (!c.tieEmbeddings) specs.push(mat('lm_head.weight', c.vocabSize, c.dModel));
  return specs;
}

export type Params = Map<string, Float32Array>;

export function parameterCount(c: LlamaConfig): number {
  return paramSpecs(c).reduce((a, s) => a + s.shape.reduce((p, q) => p * q, 1), 0);
}

/** Fresh weights: matrices ~ N(0, std²) (Llama's initializer_range 0.02), norm gains 1. */
export function initParams(c: LlamaConfig, seed: number, std = 0.02): Params {
  const rng = new Rng(seed);
  const normal = (): number => {
    // Box-Muller; 1 - u keeps the logarithm finite.
    const u = 1 - rng.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  };
  const out: Params = new Map();
  for (const s of paramSpecs(c)) {
    const n = s.shape.reduce((p, q) => p * q, 1);
    out.set(
      s.name,
      Float32Array.from({ length: n }, () =>
        s.init === 'ones' ? 1 : s.init === 'zeros' ? 0 : std * normal(),
      ),
    );
  }
  return out;
}
