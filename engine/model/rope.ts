import type { DType } from '../onnx/dtype';
import type { Tensor } from '../onnx/graph';
import * as o from '../onnx/ops';
import { type LlamaConfig, headDim } from './config';

/**
 * Rotary position embedding with Hugging Face's scalings (transformers' modeling_rope_utils.py): each
 * kind changes the inverse frequencies, yarn also scales cos and sin, and dynamic NTK raises the base
 * with the longest position in the batch. Frequencies are computed here in float64 and fed to the
 * graph as constants, except dynamic's, which depend on the positions and are computed in the graph.
 */

/** 1 / base^(2i/d) for i < d/2: plain rotary's inverse frequencies. */
function defaultInvFreq(base: number, d: number): number[] {
  return Array.from({ length: d / 2 }, (_, i) => 1 / base ** ((2 * i) / d));
}

export interface RopeParameters {
  /** [d/2] inverse frequencies, or null when the graph computes them (dynamic). */
  invFreq: number[] | null;
  /** cos and sin are multiplied by it (yarn's attention factor; 1 otherwise). */
  attentionScaling: number;
}

/** yarn's attention temperature: 0.1 · mscale · ln(scale) + 1 above scale 1. */
const yarnMscale = (scale: number, mscale = 1): number =>
  scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;

export function ropeParameters(c: LlamaConfig): RopeParameters {
  const d = headDim(c);
  const base = c.ropeTheta;
  const s = c.ropeScaling;
  if (s === null) return { invFreq: defaultInvFreq(base, d), attentionScaling: 1 };
  switch (s.type) {
    case 'linear':
      return { invFreq: defaultInvFreq(base, d).map((f) => f / s.factor), attentionScaling: 1 };
    case 'dynamic':
      return { invFreq: null, attentionScaling: 1 };
    case 'llama3': {
      // Long wavelengths (low frequencies) are divided by factor, short ones kept, and the band
      // between them interpolated smoothly (Llama 3.1's long-context recipe).
      const old = s.originalMaxPositionEmbeddings;
      const lowFreqWavelen = old / s.lowFreqFactor;
      const highFreqWavelen = old / s.highFreqFactor;
      const invFreq = defaultInvFreq(base, d).map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen < highFreqWavelen) return f;
        if (wavelen > lowFreqWavelen) return f / s.factor;
        const smooth = (old / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        return ((1 - smooth) * f) / s.factor + smooth * f;
      });
      return { invFreq, attentionScaling: 1 };
    }
    case 'yarn': {
      const original = s.originalMaxPositionEmbeddings ?? c.maxSeqLen;
      const factor = s.factor;
      const attentionScaling =
        s.attentionFactor ??
        (s.mscale && s.mscaleAllDim
          ? yarnMscale(factor, s.mscale) / yarnMscale(factor, s.mscaleAllDim)
          : yarnMscale(factor));
      const betaFast = s.betaFast ?? 32;
      const betaSlow = s.betaSlow ?? 1;
      const truncate = s.truncate ?? true;
      const correctionDim = (rotations: number) =>
        (d * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
      let low = correctionDim(betaFast);
      let high = correctionDim(betaSlow);
      if (truncate) {
        low = Math.floor(low);
        high = Math.ceil(high);
      }
      low = Math.max(low, 0);
      high = Math.min(high, d - 1);
      if (low === high) high += 0.001;
      const invFreq = Array.from({ length: d / 2 }, (_, i) => {
        const posFreq = base ** ((2 * i) / d);
        const ramp = Math.min(Math.max((i - low) / (high - low), 0), 1);
        const extrapolation = 1 - ramp; // 1: keep the original frequency, 0: interpolate by factor
        return (1 / (factor * posFreq)) * (1 - extrapolation) + (1 / posFreq) * extrapolation;
      });
      return { invFreq, attentionScaling };
    }
  }
}

/**
 * Dynamic NTK's inverse frequencies for the batch's longest position L = max(position_ids) + 1: below
 * the trained context M plain rotary, above it base · (factor·L/M − (factor − 1))^(d/(d−2)).
 */
function dynamicInvFreq(positionIds: Tensor, c: LlamaConfig, factor: number, dtype: DType): Tensor {
  const g = positionIds.graph;
  const d = headDim(c);
  const M = c.maxSeqLen;
  const longest = o.max(o.add(o.cast(o.reduceMax(positionIds), dtype), 1), M); // []
  const ratio = o.sub(o.div(o.mul(longest, factor), M), factor - 1); // []
  const logBase = o.add(o.mul(o.log(ratio), d / (d - 2)), Math.log(c.ropeTheta)); // []
  const exponents = g.constant(
    dtype,
    [d / 2],
    Array.from({ length: d / 2 }, (_, i) => -(2 * i) / d),
  );
  return o.exp(o.mul(exponents, logBase)); // [d/2]
}

/** cos and sin of the rotary angles, [B, T, D], halves duplicated as in Hugging Face's Llama. */
export function rotaryAngles(
  positionIds: Tensor,
  c: LlamaConfig,
  dtype: DType,
): { cos: Tensor; sin: Tensor } {
  const d = headDim(c);
  const p = ropeParameters(c);
  const s = c.ropeScaling;
  const freqs =
    p.invFreq !== null
      ? positionIds.graph.constant(dtype, [d / 2], p.invFreq)
      : dynamicInvFreq(positionIds, c, s!.factor, dtype);
  const angles = o.mul(o.unsqueeze(o.cast(positionIds, dtype), [-1]), freqs); // [B, T, D/2]
  const emb = o.concat([angles, angles], -1); // [B, T, D]
  if (p.attentionScaling === 1) return { cos: o.cos(emb), sin: o.sin(emb) };
  return { cos: o.mul(o.cos(emb), p.attentionScaling), sin: o.mul(o.sin(emb), p.attentionScaling) };
}
