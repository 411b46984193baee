import { type Attrs, attr } from './attrs';
import { type DType, ONNX_DTYPE, toRawBytes } from './dtype';
import type { Tensor } from './graph';
import { type Dim, isConcrete } from './shape';

/**
 * Typed helpers over Graph.op, one per ONNX op the models use. A plain number where a tensor is
 * expected becomes a scalar constant of the other operand's element type.
 */
export type Operand = Tensor | number;

function one(x: Tensor, op: string, inputs: (Tensor | null)[], attrs: Attrs = {}): Tensor {
  return x.graph.op(op, inputs, attrs)[0];
}

function lift(ref: Tensor, v: Operand): Tensor {
  return typeof v === 'number' ? ref.graph.scalar(v, ref.dtype) : v;
}

function binary(op: string, a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number')
    throw new Error(`${op}: at least one operand must be a tensor`);
  const ref = (typeof a === 'number' ? b : a) as Tensor;
  return one(ref, op, [lift(ref, a), lift(ref, b)]);
}

export const add = (a: Operand, b: Operand): Tensor => binary('Add', a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary('Mul', a, b);
export const div = (a: Operand, b: Operand): Tensor => binary('Div', a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary('Pow', a, b);
export const max = (a: Operand, b: Operand): Tensor => binary('Max', a, b);
export const min = (a: Operand, b: Operand): Tensor => binary('Min', a, b);
export const equal = (a: Operand, b: Operand): Tensor => binary('Equal', a, b);
export const less = (a: Operand, b: Operand): Tensor => binary('Less', a, b);
export const greater = (a: Operand, b: Operand): Tensor => binary('Greater', a, b);
export const lessOrEqual = (a: Operand, b: Operand): Tensor => binary('LessOrEqual', a, b);
export const and = (a: Tensor, b: Tensor): Tensor => binary('And', a, b);
export const or = (a: Tensor, b: Tensor): Tensor => binary('Or', a, b);

export const neg = (x: Tensor): Tensor => one(x, 'Neg', [x]);
export const sqrt = (x: Tensor): Tensor => one(x, 'Sqrt', [x]);
export const reciprocal = (x: Tensor): Tensor => one(x, 'Reciprocal', [x]);
export const exp = (x: Tensor): Tensor => one(x, 'Exp', [x]);
export const log = (x: Tensor): Tensor => one(x, 'Log', [x]);
export const sigmoid = (x: Tensor): Tensor => one(x, 'Sigmoid', [x]);
export const tanh = (x: Tensor): Tensor => one(x, 'Tanh', [x]);
export const identity = (x: Tensor): Tensor => one(x, 'Identity', [x]);
export const not = (x: Tensor): Tensor => one(x, 'Not', [x]);

export const softmax = (x: Tensor, axis = -1): Tensor => one(x, 'Softmax', [x], { axis: attr.int(axis) });
export const logSoftmax = (x: Tensor, axis = -1): Tensor =>
  one(x, 'LogSoftmax', [x], { axis: attr.int(axis) });

export const matmul = (a: Tensor, b: Tensor): Tensor => one(a, 'MatMul', [a, b]);

export function gemm(
  a: Tensor,
  b: Tensor,
  c: Tensor | null,
  o: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {},
): Tensor {
  return one(a, 'Gemm', [a, b, c], {
    alpha: attr.float(o.alpha ?? 1),
    beta: attr.float(o.beta ?? 1),
    transA: attr.int(o.transA ? 1 : 0),
    transB: attr.int(o.transB ? 1 : 0),
  });
}

function reduceOp(op: string, x: Tensor, axes: readonly number[] | undefined, keepdims: boolean): Tensor {
  const inputs = axes === undefined ? [x] : [x, x.graph.ints(axes)];
  return one(x, op, inputs, { keepdims: attr.int(keepdims ? 1 : 0) });
}

/** Sum over `axes` (all axes when omitted). */
export const reduceSum = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduceOp('ReduceSum', x, axes, keepdims);
export const reduceMean = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduceOp('ReduceMean', x, axes, keepdims);
export const reduceMax = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduceOp('ReduceMax', x, axes, keepdims);
export const reduceMin = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduceOp('ReduceMin', x, axes, keepdims);

/** Reshape to a shape of numbers (0 copies the input's dimension, -1 is inferred). */
export const reshape = (x: Tensor, shape: readonly number[]): Tensor =>
  one(x, 'Reshape', [x, x.graph.ints(shape)]);
export const reshapeTo = (x: Tensor, shape: Tensor): Tensor => one(x, 'Reshape', [x, shape]);

export const transpose = (x: Tensor, perm: readonly number[]): Tensor =>
  one(x, 'Transpose', [x], { perm: attr.ints(perm) });
export const unsqueeze = (x: Tensor, axes: readonly number[]): Tensor =>
  one(x, 'Unsqueeze', [x, x.graph.ints(axes)]);
export const squeeze = (x: Tensor, axes: readonly number[]): Tensor =>
  one(x, 'Squeeze', [x, x.graph.ints(axes)]);

export function slice(
  x: Tensor,
  starts: readonly number[],
  ends: readonly number[],
  axes?: readonly number[],
  steps?: readonly number[],
): Tensor {
  const g = x.graph;
  return one(x, 'Slice', [
    x,
    g.ints(starts),
    g.ints(ends),
    axes ? g.ints(axes) : null,
    steps ? g.ints(steps) : null,
  ]);
}

/**
 * x, but available only once every one of `deps` has been computed: x + Σ (d₀ − d₀), d₀ each
 * dependency's first element (x itself for finite values; a non-finite dependency makes it NaN).
 * onnxruntime runs a node as soon as it may and a value nothing waits for as late as it may, keeping
 * what that value reads alive meanwhile; this orders the graph where that matters (training-graph.ts).
 */
export function after(x: Tensor, deps: readonly Tensor[]): Tensor {
  if (deps.length === 0) return x;
  const zero = deps
    .map((d) => {
      const first = slice(reshape(d, [-1]), [0], [1], [0]); // [1]
      return sub(first, first);
    })
    .reduce((a, b) => add(a, b));
  return add(x, zero);
}

export const concat = (xs: readonly Tensor[], axis: number): Tensor =>
  one(xs[0], 'Concat', [...xs], { axis: attr.int(axis) });

/** Broadcast to `shape` (numpy rules, both ways). */
export const expand = (x: Tensor, shape: readonly number[] | Tensor): Tensor =>
  one(x, 'Expand', [x, Array.isArray(shape) ? x.graph.ints(shape as number[]) : (shape as Tensor)]);

export const gather = (x: Tensor, indices: Tensor, axis = 0): Tensor =>
  one(x, 'Gather', [x, indices], { axis: attr.int(axis) });

export const where = (cond: Tensor, a: Operand, b: Operand): Tensor => {
  const ref = (typeof a === 'number' ? b : a) as Tensor;
  return one(ref, 'Where', [cond, lift(ref, a), lift(ref, b)]);
};

export const cast = (x: Tensor, to: DType): Tensor => one(x, 'Cast', [x], { to: attr.int(ONNX_DTYPE[to]) });

export const shapeOf = (x: Tensor): Tensor => one(x, 'Shape', [x]);

/** A tensor filled with `value`, shaped like `shape` (dims known at build time, or a runtime Shape). */
export function full(
  ref: Tensor,
  shape: readonly Dim[] | Tensor,
  value: number,
  dtype: DType = ref.dtype,
): Tensor {
  const g = ref.graph;
  if (Array.isArray(shape) && shape.length === 0) return g.scalar(value, dtype);
  const shapeT = Array.isArray(shape) ? dimsTensor(ref, shape as Dim[]) : (shape as Tensor);
  const t = { dims: [1], dataType: ONNX_DTYPE[dtype], rawData: toRawBytes(dtype, [value]) };
  return one(ref, 'ConstantOfShape', [shapeT], { value: attr.tensor(t) });
}

/**
 * A 1-D int64 tensor holding `dims`: a constant when all are numbers, otherwise gathered at run time
 * from `ref`'s Shape (each symbolic dim must be one of ref's dims).
 */
export function dimsTensor(ref: Tensor, dims: readonly Dim[]): Tensor {
  const g = ref.graph;
  if (isConcrete(dims)) return g.ints(dims);
  const idx = dims.map((d) => {
    if (typeof d === 'number') return -1;
    const i = ref.shape.indexOf(d);
    if (i < 0) throw new Error(`symbolic dim '${d}' is not a dim of ${ref}`);
    return i;
  });
  const sh = shapeOf(ref);
  const parts = dims.map((d, k) => (typeof d === 'number' ? g.ints([d]) : gather(sh, g.ints([idx[k]]))));
  return parts.length === 1 ? parts[0] : concat(parts, 0);
}

/**
 * Zero-pads `x` by `begin`/`end` elements on each of `axes`. Pads are given for every axis, not via
 * Pad-18's `axes` input: onnxruntime 1.29's transpose optimizer permutes the pads of a Pad that has
 * `axes` as if they covered every axis, and the graph then fails at run time.
 */
export function pad(
  x: Tensor,
  axes: readonly number[],
  begin: readonly number[],
  end: readonly number[],
): Tensor {
  const full = new Array<number>(2 * x.rank).fill(0);
  axes.forEach((a, i) => {
    const ax = a < 0 ? a + x.rank : a;
    full[ax] = begin[i];
    full[ax + x.rank] = end[i];
  });
  return one(x, 'Pad', [x, x.graph.ints(full)]);
}

export function split(x: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  return x.graph.op('Split', [x, x.graph.ints(sizes)], { axis: attr.int(axis) }, { outputs: sizes.length });
}

export const range = (start: Tensor, limit: Tensor, delta: Tensor): Tensor =>
  one(start, 'Range', [start, limit, delta]);
export const trilu = (x: Tensor, upper: boolean, k?: Tensor): Tensor =>
  one(x, 'Trilu', k ? [x, k] : [x], { upper: attr.int(upper ? 1 : 0) });

export const relu = (x: Tensor): Tensor => one(x, 'Relu', [x]);
export const cos = (x: Tensor): Tensor => one(x, 'Cos', [x]);
export const sin = (x: Tensor): Tensor => one(x, 'Sin', [x]);

/** The index of the first largest value along `axis` (ArgMax, int64, keepdims). */
export const argMax = (x: Tensor, axis: number): Tensor =>
  one(x, 'ArgMax', [x], { axis: attr.int(axis), keepdims: attr.int(1), select_last_index: attr.int(0) });

/** out[i][j] = x[i][indices[i][j]] along `axis` (GatherElements; indices int64, shaped like the output). */
export const gatherElements = (x: Tensor, indices: Tensor, axis: number): Tensor =>
  one(x, 'GatherElements', [x, indices], { axis: attr.int(axis) });

/**
 * A copy of `data` with `updates` written at `indices` along `axis` (ScatterElements; 'add' sums
 * updates that land on the same position, and adds them to data's).
 */
export const scatterElements = (
  data: Tensor,
  indices: Tensor,
  updates: Tensor,
  axis: number,
  reduction = 'none',
): Tensor =>
  one(data, 'ScatterElements', [data, indices, updates], {
    axis: attr.int(axis),
    reduction: attr.string(reduction),
  });

/** A copy of `data` with the slices `indices` [..., k] name replaced by `updates` (ScatterND, no reduction). */
export const scatterND = (data: Tensor, indices: Tensor, updates: Tensor): Tensor =>
  one(data, 'ScatterND', [data, indices, updates]);

/**
 * The distinct values of a 1-D tensor, sorted (Unique): [values [u], first index of each [u], the
 * position of each input element among the values [N], counts [u]]; u is known only at run time.
 */
export const unique = (x: Tensor): Tensor[] =>
  x.graph.op('Unique', [x], { sorted: attr.int(1) }, { outputs: 4 });

/** Running sum along `axis` (CumSum: inclusive, first to last, one element after another). */
export const cumSum = (x: Tensor, axis: number): Tensor =>
  one(x, 'CumSum', [x, x.graph.scalar(axis, 'int64')]);

/**
 * The `k` largest values along `axis` (TopK, sorted largest first, ties to the lower index), or with
 * `largest` false the k smallest (smallest first, ties to the lower index), and their int64
 * indices; `k` is an int64 [1] tensor (a graph input) or a number.
 */
export function topK(
  x: Tensor,
  k: Tensor | number,
  axis = -1,
  largest = true,
): [values: Tensor, indices: Tensor] {
  const kT = typeof k === 'number' ? x.graph.ints([k]) : k;
  const [values, indices] = x.graph.op(
    'TopK',
    [x, kT],
    { axis: attr.int(axis), largest: attr.int(largest ? 1 : 0), sorted: attr.int(1) },
    { outputs: 2 },
  );
  return [values, indices];
}
