import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BadInputError } from '../../base/errors';
import { halvesToFloats } from '../generate/fp16';
import {
  type DeferredTensor,
  type NamedTensor,
  type SafetensorsDtype,
  readSafetensors,
  safetensorsPieces,
  tensorBytes,
} from './safetensors';

/**
 * A checkpoint's weights as Hugging Face stores them: one model.safetensors, or shards listed in
 * model.safetensors.index.json (`weight_map`: tensor name → shard file), each tensor in F32, F16 or
 * BF16. The engine computes in float32; a checkpoint it writes goes back to the source's dtype.
 */

export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

/** The float dtypes a checkpoint's weights may come in. */
export type WeightsDtype = 'F32' | 'F16' | 'BF16';

/** config.json's torch_dtype (transformers 5: dtype) as a safetensors dtype. */
export function dtypeFromTorchName(name: unknown): WeightsDtype | null {
  return name === 'float32' ? 'F32' : name === 'float16' ? 'F16' : name === 'bfloat16' ? 'BF16' : null;
}

/** Where each tensor of a folder's weights is: the single file, or the shards of its index. */
export function weightFiles(dir: string): { files: string[]; index: string | null } {
  const single = path.join(dir, WEIGHTS_FILE);
  const index = path.join(dir, WEIGHTS_INDEX_FILE);
  if (existsSync(single)) return { files: [single], index: null };
  if (!existsSync(index))
    throw new BadInputError(
      single,
      null,
      '(file)',
      `not found (nor ${WEIGHTS_INDEX_FILE}): the model folder has no safetensors weights`,
    );
  let json: { weight_map?: Record<string, string> };
  try {
    json = JSON.parse(readFileSync(index, 'utf8'));
  } catch (e) {
    throw new BadInputError(index, null, '(json)', (e as Error).message);
  }
  const map = json.weight_map;
  if (!map || typeof map !== 'object' || Object.keys(map).length === 0)
    throw new BadInputError(index, null, 'weight_map', 'missing or empty');
  const files = [...new Set(Object.values(map))].map((f) => {
    if (typeof f !== 'string' || f.includes('/') || f.includes('\\') || f.startsWith('.'))
      throw new BadInputError(
        index,
        null,
        'weight_map',
        `${JSON.stringify(f)} is not a file name in the folder`,
      );
    const file = path.join(dir, f);
    if (!existsSync(file)) throw new BadInputError(index, null, 'weight_map', `shard ${f} not found`);
    return file;
  });
  return { files, index };
}

/** Every tensor of a folder's weights by name, with the file it came from (for error messages). */
export function readWeights(dir: string): Map<string, { tensor: NamedTensor; file: string }> {
  const out = new Map<string, { tensor: NamedTensor; file: string }>();
  for (const file of weightFiles(dir).files)
    for (const [name, tensor] of Object.entries(readSafetensors(file).tensors)) {
      if (out.has(name))
        throw new BadInputError(file, null, name, `also in ${path.basename(out.get(name)!.file)}`);
      out.set(name, { tensor, file });
    }
  return out;
}

export function toFloat32(t: NamedTensor, file: string, name: string): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return t.data as Float32Array;
    case 'F16':
      return halvesToFloats(t.data as Uint16Array, new Float32Array(t.data.length));
    case 'BF16': {
      // bfloat16 is the upper half of a float32. A loop, not Uint32Array.from(src, fn): that builds a
      // temporary JS array of every element, which a real model's embedding overflows.
      const src = t.data as Uint16Array;
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      throw new BadInputError(file, null, name, `dtype ${t.dtype} is not a float type`);
  }
}

/** float32 → bfloat16, rounding to nearest even as torch's .to(torch.bfloat16) does. */
export function floatsToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i];
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0)
      out[i] = (b >>> 16) | 0x40; // NaN stays NaN
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** float32 → IEEE half, rounding to nearest even (overflow to infinity, subnormals kept). */
export function floatsToF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i];
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    const mant = b & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      // Subnormal: shift the mantissa (with its implicit 1) and round to nearest even.
      const m = mant | 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const rest = m & ((1 << shift) - 1);
      let v = m >>> shift;
      if (rest > half || (rest === half && (v & 1) === 1)) v++;
      out[i] = sign | v;
      continue;
    }
    let v = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (v & 1) === 1)) v++; // a carry into the exponent is right
    out[i] = sign | v;
  }
  return out;
}

export function fromFloat32(data: Float32Array, dtype: WeightsDtype): NamedTensor['data'] {
  return dtype === 'F32' ? data : dtype === 'BF16' ? floatsToBf16(data) : floatsToF16(data);
}

/** Hugging Face's default max_shard_size for save_pretrained. */
export const DEFAULT_MAX_SHARD_BYTES = 5 * 1000 ** 3;

/**
 * The weights as Hugging Face writes them: one model.safetensors, or, past `maxShardBytes`, shards
 * `model-0000i-of-0000n.safetensors` (tensors in name order, filled up to the limit) and their index.
 * Returns file name → its bytes, as pieces to write in order (safetensorsPieces: the tensors' own
 * bytes, not a copy) or the index's text.
 */
export function encodeWeights(
  tensors: Record<string, NamedTensor | DeferredTensor>,
  maxShardBytes = DEFAULT_MAX_SHARD_BYTES,
): Map<string, Iterable<Uint8Array> | string> {
  const size = tensorBytes;
  const total = Object.values(tensors).reduce((a, t) => a + size(t), 0);
  if (total <= maxShardBytes)
    return new Map<string, Iterable<Uint8Array> | string>([
      [WEIGHTS_FILE, safetensorsPieces(tensors, { format: 'pt' })],
    ]);
  const shards: Record<string, NamedTensor | DeferredTensor>[] = [];
  let current: Record<string, NamedTensor | DeferredTensor> = {};
  let bytes = 0;
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    if (bytes > 0 && bytes + size(t) > maxShardBytes) {
      shards.push(current);
      current = {};
      bytes = 0;
    }
    current[name] = t;
    bytes += size(t);
  }
  shards.push(current);
  const pad = (i: number) => String(i).padStart(5, '0');
  const out = new Map<string, Iterable<Uint8Array> | string>();
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const file = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    out.set(file, safetensorsPieces(shard, { format: 'pt' }));
    for (const name of Object.keys(shard)) weightMap[name] = file;
  });
  out.set(
    WEIGHTS_INDEX_FILE,
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n',
  );
  return out;
}

export type { SafetensorsDtype };
