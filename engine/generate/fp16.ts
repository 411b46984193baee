/**
 * IEEE half-precision to single: onnxruntime-node hands float16 tensors over as Uint16Array bit
 * patterns (Node 20 has no Float16Array). A 64K-entry table makes the per-token logits conversion a
 * single indexed load per element.
 */
let table: Float32Array | null = null;

function halfTable(): Float32Array {
  if (table) return table;
  const t = new Float32Array(65536);
  const word = new Uint32Array(1);
  const asFloat = new Float32Array(word.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) t[h] = (sign ? -1 : 1) * mantissa * 2 ** -24;
    else if (exponent === 31) t[h] = mantissa ? NaN : sign ? -Infinity : Infinity;
    else {
      word[0] = (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
      t[h] = asFloat[0];
    }
  }
  return (table = t);
}

/** Converts `src` (float16 bit patterns) into `dst`, element for element. */
export function halvesToFloats(src: Uint16Array, dst: Float32Array): Float32Array {
  const t = halfTable();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]];
  return dst;
}
