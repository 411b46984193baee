import { Rng } from '../../base/rng';
import type { Tensor } from '../onnx/graph';
import * as o from '../onnx/ops';
import { type LlamaConfig, headDim } from './config';
import type { ParamSpec, Params } from './params';
import { LORA_MODULES, type LoraConfig, type LoraModule } from './lora-config';

/**
 * LoRA (Hu et al. 2021) as PEFT computes it: a frozen linear W gains a low-rank update,
 * y = x·Wᵀ + b + scaling · dropout(x)·Aᵀ·Bᵀ with A [r, in], B [out, r] and scaling = alpha / r. Only A
 * and B train; B starts at zero, so the adapted model starts as the base. Names and layout are
 * PEFT's, so its adapters load here and ours load in PEFT.
 */

export { LORA_MODULES, type LoraModule, LoraConfig, type LoraConfigInput } from './lora-config';

export const loraScaling = (l: LoraConfig): number => l.alpha / l.rank;

/** [out, in] of a projection of layer i. */
function moduleShape(c: LlamaConfig, m: LoraModule): [number, number] {
  const d = headDim(c);
  const q = c.nHeads * d;
  const kv = c.nKvHeads * d;
  switch (m) {
    case 'q':
      return [q, c.dModel];
    case 'k':
    case 'v':
      return [kv, c.dModel];
    case 'o':
      return [c.dModel, q];
    case 'gate':
    case 'up':
      return [c.dFF, c.dModel];
    case 'down':
      return [c.dModel, c.dFF];
  }
}

/** Every adapted projection: its Hugging Face module name (`model.layers.0.self_attn.q_proj`) and shape. */
export function loraTargets(c: LlamaConfig, l: LoraConfig): { module: string; out: number; in: number }[] {
  const out: { module: string; out: number; in: number }[] = [];
  for (let i = 0; i < c.nLayers; i++)
    for (const m of Object.keys(LORA_MODULES) as LoraModule[])
      if (l.targetModules.includes(m)) {
        const [rows, cols] = moduleShape(c, m);
        out.push({ module: `model.layers.${i}.${LORA_MODULES[m]}`, out: rows, in: cols });
      }
  return out;
}

/** The adapter's parameters (`<module>.lora_A.weight` [r, in], `<module>.lora_B.weight` [out, r]). */
export function loraSpecs(c: LlamaConfig, l: LoraConfig): ParamSpec[] {
  return loraTargets(c, l).flatMap((t) => [
    {
      name: `${t.module}.lora_A.weight`,
      shape: [l.rank, t.in] as [number, number],
      decay: true,
      init: 'normal' as const,
    },
    {
      name: `${t.module}.lora_B.weight`,
      shape: [t.out, l.rank] as [number, number],
      decay: true,
      init: 'zeros' as const,
    },
  ]);
}

/**
 * Fresh adapters as PEFT initialises them: A ~ kaiming_uniform(a = √5), i.e. U(−1/√in, 1/√in), and
 * B = 0, seeded.
 */
export function initLora(c: LlamaConfig, l: LoraConfig, seed: number): Params {
  const rng = new Rng(seed);
  const out: Params = new Map();
  for (const s of loraSpecs(c, l)) {
    const [rows, cols] = s.shape as [number, number];
    const bound = 1 / Math.sqrt(cols);
    out.set(
      s.name,
      s.init === 'zeros'
        ? new Float32Array(rows * cols)
        : Float32Array.from({ length: rows * cols }, () => (2 * rng.next() - 1) * bound),
    );
  }
  return out;
}

/** PEFT's key for one of our adapter parameters in adapter_model.safetensors. */
export const peftName = (name: string): string => `base_model.model.${name}`;
export const fromPeftName = (key: string): string | null =>
  key.startsWith('base_model.model.') ? key.slice('base_model.model.'.length) : null;

/**
 * W + scaling · B·A for every adapted projection (merge_and_unload): the model the adapters make,
 * as plain weights. Returns new arrays for the adapted weights and the base's for the rest.
 */
export function mergeLora(c: LlamaConfig, l: LoraConfig, base: Params, adapters: Params): Params {
  const out: Params = new Map(base);
  const s = loraScaling(l);
  for (const t of loraTargets(c, l)) {
    const w = base.get(`${t.module}.weight`)!;
    const A = adapters.get(`${t.module}.lora_A.weight`)!; // [r, in]
    const B = adapters.get(`${t.module}.lora_B.weight`)!; // [out, r]
    const merged = new Float32Array(w);
    for (let i = 0; i < t.out; i++)
      for (let k = 0; k < l.rank; k++) {
        const b = B[i * l.rank + k] * s;
        if (b === 0) continue;
        const row = i * t.in;
        const a = k * t.in;
        for (let j = 0; j < t.in; j++) merged[row + j] += b * A[a + j];
      }
    out.set(`${t.module}.weight`, merged);
  }
  return out;
}

/**
 * The training graph's side of LoRA: for a projection with adapters among `w`, the update
 * scaling · dropout(x)·Aᵀ·Bᵀ to add to its output; null for the others. Dropout draws its mask from
 * a counter-based hash of the element's index, the module and a per-step seed fed to the graph, so a
 * resumed run draws the same masks as an uninterrupted one.
 */
export interface LoraHook {
  delta(module: string, x: Tensor): Tensor | null;
}

export function loraHook(
  l: LoraConfig,
  w: Readonly<Record<string, Tensor>>,
  dropoutSeed: Tensor | null,
): LoraHook {
  const scaling = loraScaling(l);
  let salt = 0;
  return {
    delta(module, x) {
      const A = w[`${module}.lora_A.weight`];
      const B = w[`${module}.lora_B.weight`];
      if (!A || !B) return null;
      let input = x;
      salt++;
      if (l.dropout > 0 && dropoutSeed) input = o.mul(x, dropoutMask(x, dropoutSeed, salt, l.dropout));
      // Through the rank: two thin products, never the [out, in] update.
      const proj = (t: Tensor, m: Tensor) => o.matmul(t, o.transpose(m, [1, 0]));
      return o.mul(proj(proj(input, A), B), scaling);
    },
  };
}

/** Lehmer-style hash of (index, seed, salt) → u ∈ [0, 1); keep where u ≥ p, scaled by 1 / (1 − p). */
function dropoutMask(x: Tensor, seed: Tensor, salt: number, p: number): Tensor {
  const g = x.graph;
  const dims = x.shape;
  if (!dims.every((d): d is number => typeof d === 'number'))
    throw new Error('LoRA dropout needs the concrete shapes of the training graph');
  const n = dims.reduce((a, b) => a * b, 1);
  const M = 2147483647; // 2^31 - 1: products of two residues stay below 2^62 in int64
  const mod = (t: Tensor) => o.sub(t, o.mul(o.div(t, M), M));
  const idx = o.range(g.scalar(0, 'int64'), g.scalar(n, 'int64'), g.scalar(1, 'int64')); // [n]
  let h = mod(o.add(o.mul(idx, 48271), o.add(o.mul(seed, 69621), salt * 16807 + 1)));
  h = mod(o.add(o.mul(h, 48271), 11));
  h = mod(o.mul(h, 69621));
  const u = o.div(o.cast(h, x.dtype), M); // [n] in [0, 1)
  const keep = o.cast(o.greater(u, p), x.dtype);
  return o.reshape(o.mul(keep, 1 / (1 - p)), dims);
}
