import { Rng } from '../../method/rng';
import { type LlamaConfig, headDim } from './config';

/**
 * The model's parameters, named and laid out as in Hugging Face's Llama (`model.layers.0.self_attn.
 * q_proj.weight`, linear weights `[out, in]`), so checkpoints read like any Llama checkpoint.
 */
export interface ParamSpec {
  name: string;
  shape: [number] | [number, number];
  /** AdamW decays matrices only, not norm gains. */
  decay: boolean;
  init: 'normal' | 'ones';
}

export function paramSpecs(c: LlamaConfig): ParamSpec[] {
  const kv = c.nKvHeads * headDim(c);
  const mat = (name: string, out: number, inp: number): ParamSpec => ({
    name,
    shape: [out, inp],
    decay: true,
    init: 'normal',
  });
  const gain = (name: string): ParamSpec => ({ name, shape: [c.dModel], decay: false, init: 'ones' });
  const specs: ParamSpec[] = [mat('model.embed_tokens.weight', c.vocabSize, c.dModel)];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}`;
    specs.push(
      gain(`${p}.input_layernorm.weight`),
      mat(`${p}.self_attn.q_proj.weight`, c.dModel, c.dModel),
      mat(`${p}.self_attn.k_proj.weight`, kv, c.dModel),
      mat(`${p}.self_attn.v_proj.weight`, kv, c.dModel),
      mat(`${p}.self_attn.o_proj.weight`, c.dModel, c.dModel),
      gain(`${p}.post_attention_layernorm.weight`),
      mat(`${p}.mlp.gate_proj.weight`, c.dFF, c.dModel),
      mat(`${p}.mlp.up_proj.weight`, c.dFF, c.dModel),
      mat(`${p}.mlp.down_proj.weight`, c.dModel, c.dFF),
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
      Float32Array.from({ length: n }, () => (s.init === 'ones' ? 1 : std * normal())),
    );
  }
  return out;
}
