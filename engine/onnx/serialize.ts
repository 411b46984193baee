import { onnx } from 'onnx-proto';
import { encodeAttr } from './attrs';
import { type AnyTypedArray, BYTES_PER_ELEMENT, type DType, ONNX_DTYPE, toRawBytes } from './dtype';
import type { Graph, Tensor } from './graph';

/** Opset 18: every Reduce* op takes its axes as an input, Split takes num_outputs. */
export const OPSET = 18;
/** IR version 8 is the first that carries opset 18 and the newest onnx-proto (ONNX 1.10) can encode. */
export const IR_VERSION = 8;

export interface SerializeOptions {
  /**
   * Initializers with at least this many bytes go to an external data file (ONNX external data
   * convention: location/offset/length relative to the model file). Default: all inline.
   */
  externalThresholdBytes?: number;
  /** File name of the external data, relative to the model file. */
  externalLocation?: string;
  producerName?: string;
  /**
   * Initializers whose bytes already lie in an external data file (another model's, by name): they
   * are written as references to it and their data here is not read. Locations are relative to the
   * model file, as ONNX requires.
   */
  externalRefs?: ReadonlyMap<string, ExternalRef>;
}

/** Where an initializer's bytes lie in an external data file (ONNX's location / offset / length). */
export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

/** The external data references of a model's initializers, by name (none when all are inline). */
export function externalRefsOf(model: Uint8Array): Map<string, ExternalRef> {
  const refs = new Map<string, ExternalRef>();
  for (const t of onnx.ModelProto.decode(model).graph?.initializer ?? []) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const entry = (key: string) => t.externalData?.find((e) => e.key === key)?.value ?? '';
    refs.set(t.name ?? '', {
      location: entry('location'),
      offset: Number(entry('offset') || 0),
      length: Number(entry('length')),
    });
  }
  return refs;
}

/** The inline float32 initializers of a model, by name (the small ones a model keeps inside). */
export function inlineFloatsOf(model: Uint8Array): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const t of onnx.ModelProto.decode(model).graph?.initializer ?? []) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT || !t.rawData?.byteLength) continue;
    const raw = t.rawData;
    out.set(
      t.name ?? '',
      new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
    );
  }
  return out;
}

export interface Serialized {
  model: Uint8Array;
  /** The external data file's bytes, when any initializer went there. */
  /**
   * The external data file's bytes, when any initializer went there, as pieces to write one after
   * another: a 1B model's float32 weights are past the largest Buffer Node can allocate (4 GiB).
   */
  externalData?: Uint8Array[];
}

function valueInfo(t: Tensor): onnx.IValueInfoProto {
  return {
    name: t.name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[t.dtype],
        shape: { dim: t.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function rawBytes(dtype: DType, data: AnyTypedArray | readonly number[]): Uint8Array {
  // Float typed arrays are already little-endian bytes on every platform onnxruntime-node ships for.
  if (
    (dtype === 'float32' && data instanceof Float32Array) ||
    (dtype === 'float64' && data instanceof Float64Array)
  )
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return toRawBytes(dtype, data);
}

export function toModelProto(
  graph: Graph,
  opts: SerializeOptions = {},
): { proto: onnx.ModelProto; externalData?: Uint8Array[] } {
  const threshold = opts.externalThresholdBytes ?? Infinity;
  const location = opts.externalLocation ?? 'model.onnx_data';
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const initializer = graph.initializers.map(({ tensor, data }): onnx.ITensorProto => {
    const base = { name: tensor.name, dataType: ONNX_DTYPE[tensor.dtype], dims: tensor.shape as number[] };
    const ref = opts.externalRefs?.get(tensor.name);
    if (ref) {
      if (ref.length !== data.length * BYTES_PER_ELEMENT[tensor.dtype])
        throw new Error(`initializer ${tensor.name}: the external reference holds ${ref.length} bytes`);
      return {
        ...base,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: ref.location },
          { key: 'offset', value: String(ref.offset) },
          { key: 'length', value: String(ref.length) },
        ],
      };
    }
    const bytes = rawBytes(tensor.dtype, data);
    if (bytes.byteLength < threshold) return { ...base, rawData: bytes };
    // External data is aligned so that readers may map it directly.
    const align = Math.max(BYTES_PER_ELEMENT[tensor.dtype], 64);
    const padding = (align - (offset % align)) % align;
    if (padding) chunks.push(new Uint8Array(padding));
    offset += padding;
    chunks.push(bytes);
    const entry = {
      ...base,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.byteLength) },
      ],
    };
    offset += bytes.byteLength;
    return entry;
  });
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: opts.producerName ?? 'lmsi',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: graph.name,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
      initializer,
      node: graph.nodes.map((n) => ({
        name: n.name,
        opType: n.op,
        input: n.inputs.map((t) => (t ? t.name : '')),
        output: n.outputs.map((t) => t.name),
        attribute: Object.entries(n.attrs).map(([k, v]) => encodeAttr(k, v)),
      })),
    },
  });
  return { proto, externalData: chunks.length ? chunks : undefined };
}

export function serialize(graph: Graph, opts: SerializeOptions = {}): Serialized {
  const { proto, externalData } = toModelProto(graph, opts);
  return { model: onnx.ModelProto.encode(proto).finish(), externalData };
}

/** An initializer's bytes handed to onnxruntime beside the model (SessionOptions.externalData). */
export interface MemoryExternalData {
  path: string;
  data: Uint8Array;
}

/**
 * The model bytes with the initializers `outside` names left out, each referring to an in-memory
 * "file" of its own that onnxruntime reads through SessionOptions.externalData: a graph holding a
 * model's weights as constants serializes without copying them and past protobuf's 2 GiB, and each
 * file is a view of the initializer's own array.
 */
export function serializeForSession(
  graph: Graph,
  outside: { has(name: string): boolean },
): { model: Uint8Array; externalData: MemoryExternalData[] } {
  const externalRefs = new Map<string, ExternalRef>();
  const externalData: MemoryExternalData[] = [];
  for (const { tensor, data } of graph.initializers) {
    if (!outside.has(tensor.name)) continue;
    const bytes = rawBytes(tensor.dtype, data);
    const location = `initializer-${externalData.length}.bin`;
    externalRefs.set(tensor.name, { location, offset: 0, length: bytes.byteLength });
    externalData.push({ path: location, data: bytes });
  }
  return { model: serialize(graph, { externalRefs }).model, externalData };
}

/** The model bytes of a graph whose initializers all fit inline (tests, small models). */
export function toBytes(graph: Graph): Uint8Array {
  return serialize(graph).model;
}
