import * as ort from 'onnxruntime-node';
import type { DecoderSignature } from './signature';

type CacheData = Float32Array | Uint16Array;

/** Where one row's cache lives now: row `row` of tensors `[rows, kvHeads, width, headDim]`. */
export interface CacheSlot {
  tensors: readonly ort.Tensor[];
  row: number;
  width: number;
  /** Real positions; they are the rightmost `length` columns of the row (left padding before). */
  length: number;
}

function allocate(sig: DecoderSignature, size: number): CacheData {
  return sig.cacheDType === 'float16' ? new Uint16Array(size) : new Float32Array(size);
}

/** Empty past (`past` axis 0) for a prefill. */
export function emptyCache(sig: DecoderSignature, rows: number): ort.Tensor[] {
  return sig.pastNames.map(
    () => new ort.Tensor(sig.cacheDType, allocate(sig, 0), [rows, sig.kvHeads, 0, sig.headDim]),
  );
}

/**
 * A new batch's past: one row per slot, right-aligned in `width` columns, zeros on the left (masked
 * out by attention_mask). This is the only place the sampler copies a cache: when rows join (a
 * prompt's prefill copied into the rows that sample from it) or leave (the batch compacts).
 */
export function assembleCache(
  sig: DecoderSignature,
  slots: readonly CacheSlot[],
  width: number,
): ort.Tensor[] {
  const { kvHeads: heads, headDim: dim } = sig;
  return sig.pastNames.map((_, t) => {
    const out = allocate(sig, slots.length * heads * width * dim);
    slots.forEach((slot, r) => {
      if (slot.length > width)
        throw new Error(`assembleCache: a row holds ${slot.length} positions, batch width ${width}`);
      const src = slot.tensors[t].data as CacheData;
      for (let h = 0; h < heads; h++) {
        const from = ((slot.row * heads + h) * slot.width + slot.width - slot.length) * dim;
        const to = ((r * heads + h) * width + width - slot.length) * dim;
        out.set(src.subarray(from, from + slot.length * dim), to);
      }
    });
    return new ort.Tensor(sig.cacheDType, out, [slots.length, heads, width, dim]);
  });
}
