import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { BadInputError } from '../../base/errors';

/**
 * safetensors (Hugging Face's weight format): 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}` padded with
 * spaces to 8 bytes, then the tensors' little-endian bytes, contiguous. No npm library for it is
 * maintained, so this is the whole format, checked against files written by the reference library.
 */

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Raw element storage: float16/bfloat16 stay as their 16-bit patterns. */
export type TensorData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

export interface NamedTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

/**
 * A tensor whose data is made only when the writer reaches it (a float32 weight converted to BF16,
 * say), so a checkpoint's writer holds one converted tensor at a time, not the whole file's.
 */
export interface DeferredTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: () => TensorData;
}

/** Bytes of a tensor's data, from its dtype and shape. */
export function tensorBytes(t: NamedTensor | DeferredTensor): number {
  return t.shape.reduce((a, b) => a * b, 1) * DTYPES[t.dtype].bytes;
}

const DTYPES: Record<SafetensorsDtype, { bytes: number; make: (buf: ArrayBuffer, n: number) => TensorData }> =
  {
    F64: { bytes: 8, make: (b, n) => new Float64Array(b, 0, n) },
    F32: { bytes: 4, make: (b, n) => new Float32Array(b, 0, n) },
    F16: { bytes: 2, make: (b, n) => new Uint16Array(b, 0, n) },
    BF16: { bytes: 2, make: (b, n) => new Uint16Array(b, 0, n) },
    I64: { bytes: 8, make: (b, n) => new BigInt64Array(b, 0, n) },
    I32: { bytes: 4, make: (b, n) => new Int32Array(b, 0, n) },
    I16: { bytes: 2, make: (b, n) => new Int16Array(b, 0, n) },
    I8: { bytes: 1, make: (b, n) => new Int8Array(b, 0, n) },
    U8: { bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
    BOOL: { bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  };

const MAX_HEADER = 100 * 1024 * 1024;

export function encodeSafetensors(
  tensors: Record<string, NamedTensor>,
  metadata?: Record<string, string>,
): Buffer {
  return Buffer.concat([...safetensorsPieces(tensors, metadata)]);
}

/**
 * The safetensors file as pieces to write one after another: the length and header, then each
 * tensor's own bytes (views of its data, not copies; a deferred tensor's made as it is reached). A
 * checkpoint's writer uses them so that a model's weights and moments are never held a second time
 * as one file-sized buffer.
 */
export function safetensorsPieces(
  tensors: Record<string, NamedTensor | DeferredTensor>,
  metadata?: Record<string, string>,
): Iterable<Uint8Array> {
  // Same order as the reference writer: larger alignment first, then by name; offsets contiguous.
  const names = Object.keys(tensors).sort(
    (a, b) => DTYPES[tensors[b].dtype].bytes - DTYPES[tensors[a].dtype].bytes || (a < b ? -1 : a > b ? 1 : 0),
  );
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const check = (name: string, data: TensorData) => {
    const t = tensors[name];
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n)
      throw new Error(
        `safetensors: tensor ${name} has ${data.length} elements, its shape [${t.shape}] needs ${n}`,
      );
    return data;
  };
  for (const name of names) {
    const t = tensors[name];
    if (typeof t.data !== 'function') check(name, t.data);
    const size = tensorBytes(t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const head = Buffer.alloc(8 + headerBytes.length);
  head.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(head, 8);
  return (function* () {
    yield head;
    for (const name of names) {
      const t = tensors[name];
      const data = check(name, typeof t.data === 'function' ? t.data() : t.data);
      yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    }
  })();
}

export function decodeSafetensors(
  bytes: Buffer,
  file = '<buffer>',
): { tensors: Record<string, NamedTensor>; metadata: Record<string, string> } {
  const bad = (field: string, problem: string) => new BadInputError(file, null, field, problem);
  if (bytes.length < 8)
    throw bad('header', `file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength > MAX_HEADER || 8 + headerLength > bytes.length) {
    throw bad(
      'header',
      `header length ${headerLength} does not fit in a ${bytes.length}-byte file (truncated?)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  } catch (e) {
    throw bad('header', `not JSON: ${(e as Error).message}`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors: Record<string, NamedTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const {
      dtype,
      shape,
      data_offsets: offsets,
    } = entry as { dtype: SafetensorsDtype; shape: number[]; data_offsets: [number, number] };
    const spec = DTYPES[dtype];
    if (!spec) throw bad(`${name}.dtype`, `unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw bad(`${name}.shape`, `expected non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = offsets ?? [];
    if (
      !Number.isInteger(begin) ||
      !Number.isInteger(end) ||
      begin < 0 ||
      end > dataLength ||
      end - begin !== n * spec.bytes
    ) {
      throw bad(
        `${name}.data_offsets`,
        `[${offsets}] does not hold ${n} ${dtype} values within ${dataLength} data bytes`,
      );
    }
    // Copy into a fresh, aligned buffer (the file's offsets need not be aligned for the typed array).
    const copy = new ArrayBuffer(end - begin);
    new Uint8Array(copy).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors[name] = { dtype, shape, data: spec.make(copy, n) };
  }
  return { tensors, metadata };
}

/**
 * Reads a safetensors file tensor by tensor through a file descriptor: a real model's single file is
 * past the 2 GiB that one readFileSync (and one read) can return (Llama-3.2-1B's is 2.47 GB).
 */
export function readSafetensors(file: string): {
  tensors: Record<string, NamedTensor>;
  metadata: Record<string, string>;
} {
  const bad = (field: string, problem: string) => new BadInputError(file, null, field, problem);
  const header = readSafetensorsHeader(file);
  const fd = openSync(file, 'r');
  try {
    const { size } = fstatSync(fd);
    const lengthBytes = Buffer.alloc(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const dataStart = 8 + Number(lengthBytes.readBigUInt64LE(0));
    const raw = JSON.parse(Buffer.from(readChunk(fd, 8, dataStart - 8)).toString('utf8')) as Record<
      string,
      unknown
    >;
    const tensors: Record<string, NamedTensor> = {};
    let metadata: Record<string, string> = {};
    for (const [name, entry] of Object.entries(raw)) {
      if (name === '__metadata__') {
        metadata = entry as Record<string, string>;
        continue;
      }
      const { dtype, shape } = header[name];
      const spec = DTYPES[dtype as SafetensorsDtype];
      if (!spec) throw bad(`${name}.dtype`, `unsupported dtype ${JSON.stringify(dtype)}`);
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
        throw bad(`${name}.shape`, `expected non-negative integers, got ${JSON.stringify(shape)}`);
      const n = shape.reduce((a, b) => a * b, 1);
      const [begin, end] = (entry as { data_offsets: [number, number] }).data_offsets;
      if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end - begin !== n * spec.bytes)
        throw bad(`${name}.data_offsets`, `[${begin},${end}] does not hold ${n} ${dtype} values`);
      if (dataStart + end > size)
        throw bad(`${name}.data_offsets`, `[${begin},${end}] past the end of the file (truncated?)`);
      const bytes = readChunk(fd, dataStart + begin, end - begin);
      tensors[name] = {
        dtype: dtype as SafetensorsDtype,
        shape,
        data: spec.make(bytes.buffer as ArrayBuffer, n),
      };
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** `length` bytes at `position` of an open file, in a fresh aligned buffer, read in pieces under 2 GiB. */
function readChunk(fd: number, position: number, length: number): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(length));
  const piece = 1 << 30;
  for (let done = 0; done < length;) {
    const n = readSync(fd, out, done, Math.min(piece, length - done), position + done);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
  return out;
}

/**
 * The header of a safetensors file alone (names, dtypes, shapes), read without its data: what a
 * model check needs from a multi-GB checkpoint.
 */
export function readSafetensorsHeader(file: string): Record<string, { dtype: string; shape: number[] }> {
  const bad = (field: string, problem: string) => new BadInputError(file, null, field, problem);
  const fd = openSync(file, 'r');
  try {
    const { size } = fstatSync(fd);
    const head = Buffer.alloc(8);
    if (size < 8 || readSync(fd, head, 0, 8, 0) !== 8)
      throw bad('header', `file is ${size} bytes, shorter than the 8-byte header length`);
    const length = Number(head.readBigUInt64LE(0));
    if (length > MAX_HEADER || 8 + length > size)
      throw bad('header', `header length ${length} does not fit in a ${size}-byte file (truncated?)`);
    const json = Buffer.alloc(length);
    readSync(fd, json, 0, length, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      throw bad('header', `not JSON: ${(e as Error).message}`);
    }
    const out: Record<string, { dtype: string; shape: number[] }> = {};
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const {
        dtype,
        shape,
        data_offsets: offsets,
      } = entry as {
        dtype: string;
        shape: number[];
        data_offsets: [number, number];
      };
      if (!Array.isArray(offsets) || offsets[1] > size - 8 - length)
        throw bad(`${name}.data_offsets`, `[${offsets}] past the end of the file (truncated?)`);
      out[name] = { dtype, shape };
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
