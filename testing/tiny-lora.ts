import { Rng } from '../base/rng';
import { LlamaConfig, type LoraConfig, initParams, loraSpecs, paramSpecs } from '../engine/model';

// What the engine's graph tests share: a model small enough that finite differences over every
// weight stay quick, its weights, and LoRA adapters that train.

/** The tiny Llama of the gradient tests (one layer, grouped-query attention), with changes. */
export function tinyLlamaConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return LlamaConfig.parse({
    vocabSize: 7,
    dModel: 8,
    nLayers: 1,
    nHeads: 2,
    nKvHeads: 1,
    dFF: 12,
    maxSeqLen: 16,
    ...over,
  });
}

/**
 * The model's weights in float64 (float64 graphs compare to rounding, not to float32's noise),
 * drawn with a larger spread than a real initialisation so the logits are not all alike.
 */
export function float64Params(c: LlamaConfig, seed = 5, std = 0.4): Map<string, Float64Array> {
  const params = initParams(c, seed, std);
  return new Map(paramSpecs(c).map((s) => [s.name, Float64Array.from(params.get(s.name)!)]));
}

/**
 * LoRA's A and B with uniform values in [−0.5, 0.5): a fresh B is zero, which would leave A
 * without a gradient and the adapted model equal to the base.
 */
export function randomAdapters(
  c: LlamaConfig,
  lora: LoraConfig,
  seed: number,
  dtype: 'float32',
): Map<string, Float32Array>;
export function randomAdapters(
  c: LlamaConfig,
  lora: LoraConfig,
  seed: number,
  dtype: 'float64',
): Map<string, Float64Array>;
export function randomAdapters(
  c: LlamaConfig,
  lora: LoraConfig,
  seed: number,
  dtype: 'float32' | 'float64',
): Map<string, Float32Array | Float64Array> {
  const rng = new Rng(seed);
  return new Map(
    loraSpecs(c, lora).map((s) => {
      const values = Array.from({ length: s.shape[0] * s.shape[1]! }, () => rng.next() - 0.5);
      return [s.name, dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values)];
    }),
  );
}
