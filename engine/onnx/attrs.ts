import { onnx } from 'onnx-proto';

/**
 * Node attributes, typed explicitly: ONNX distinguishes `alpha: 1.0` (float) from `axis: 1` (int)
 * and a JS number cannot say which it is.
 */
export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'tensor'; value: onnx.ITensorProto };

export type Attrs = Readonly<Record<string, AttrValue>>;

export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
  ints: (value: readonly number[]): AttrValue => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): AttrValue => ({ kind: 'floats', value }),
  tensor: (value: onnx.ITensorProto): AttrValue => ({ kind: 'tensor', value }),
};

/** Reads an int attribute, or the default ONNX gives it. */
export function intAttr(attrs: Attrs, name: string, dflt: number): number {
  const a = attrs[name];
  if (a === undefined) return dflt;
  if (a.kind !== 'int') throw new Error(`attribute ${name} must be an int, got ${a.kind}`);
  return a.value;
}

export function intsAttr(attrs: Attrs, name: string): readonly number[] | undefined {
  const a = attrs[name];
  if (a === undefined) return undefined;
  if (a.kind !== 'ints') throw new Error(`attribute ${name} must be ints, got ${a.kind}`);
  return a.value;
}

export function encodeAttr(name: string, a: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name, type: T.STRING, s: Buffer.from(a.value, 'utf8') };
    case 'ints':
      return { name, type: T.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'tensor':
      return { name, type: T.TENSOR, t: a.value };
  }
}
