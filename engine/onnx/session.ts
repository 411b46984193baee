import * as ort from 'onnxruntime-node';
import type { AnyTypedArray, DType } from './dtype';
import type { Graph } from './graph';
import { toBytes } from './serialize';

/** An onnxruntime CPU session over a graph built in memory. */
export async function createSession(
  graph: Graph,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(toBytes(graph), { executionProviders: ['cpu'], ...options });
}

export function ortTensor(
  dtype: DType,
  data: AnyTypedArray | readonly number[],
  dims: readonly number[],
): ort.Tensor {
  switch (dtype) {
    case 'float32':
      return new ort.Tensor(
        'float32',
        data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>),
        dims,
      );
    case 'float64':
      return new ort.Tensor(
        'float64',
        data instanceof Float64Array ? data : Float64Array.from(data as ArrayLike<number>),
        dims,
      );
    case 'int64':
      return new ort.Tensor(
        'int64',
        data instanceof BigInt64Array
          ? data
          : BigInt64Array.from(data as ArrayLike<number>, (v) => BigInt(v)),
        dims,
      );
    case 'int32':
      return new ort.Tensor(
        'int32',
        data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>),
        dims,
      );
    case 'bool':
      return new ort.Tensor(
        'bool',
        data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>),
        dims,
      );
  }
}
