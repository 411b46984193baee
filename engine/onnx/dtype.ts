import { onnx } from 'onnx-proto';

/** Element types the builder knows. Floats carry gradients; integers and bool never do. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';

export const ONNX_DTYPE: Record<DType, onnx.TensorProto.DataType> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};

export function dtypeFromOnnx(code: number): DType {
  const found = (Object.keys(ONNX_DTYPE) as DType[]).find((d) => (ONNX_DTYPE[d] as number) === code);
  if (!found) throw new Error(`unsupported ONNX element type ${code}`);
  return found;
}

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64';
}

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float64: 8,
  int64: 8,
  int32: 4,
  bool: 1,
};

export type AnyTypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** Little-endian bytes of numeric data, as TensorProto.raw_data wants them. */
export function toRawBytes(dtype: DType, values: ArrayLike<number> | AnyTypedArray): Uint8Array {
  const n = values.length;
  const buf = Buffer.alloc(n * BYTES_PER_ELEMENT[dtype]);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    switch (dtype) {
      case 'float32':
        buf.writeFloatLE(Number(v), i * 4);
        break;
      case 'float64':
        buf.writeDoubleLE(Number(v), i * 8);
        break;
      case 'int64':
        buf.writeBigInt64LE(BigInt(v), i * 8);
        break;
      case 'int32':
        buf.writeInt32LE(Number(v), i * 4);
        break;
      case 'bool':
        buf.writeUInt8(Number(v) ? 1 : 0, i);
        break;
    }
  }
  return buf;
}
