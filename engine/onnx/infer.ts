import { type Attrs, intAttr, intsAttr } from './attrs';
import { type DType, dtypeFromOnnx } from './dtype';
import { type Dim, type Shape, broadcastShapes, formatShape, normAxis } from './shape';

/**
 * What shape inference reads of a graph's tensor (graph.ts's Tensor has these and more): declared
 * here rather than imported, so graph.ts, which calls inferOutputs, and this file form no circle.
 */
interface Tensor {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly rank: number;
  readonly known?: readonly Dim[];
}

export interface OutInfo {
  dtype: DType;
  shape: Dim[];
  known?: Dim[];
}

interface Ctx {
  op: string;
  inputs: readonly (Tensor | null)[];
  attrs: Attrs;
  nOutputs: number;
  /** A fresh symbolic dimension for sizes the builder cannot know. */
  unknown: () => string;
}

type Rule = (c: Ctx) => OutInfo[];

function arg(c: Ctx, i: number): Tensor {
  const t = c.inputs[i];
  if (!t) throw new Error(`input ${i} is required`);
  return t;
}

function knownInts(c: Ctx, i: number, what: string): number[] {
  const t = arg(c, i);
  if (!t.known || t.known.some((d) => typeof d !== 'number'))
    throw new Error(`${what} (input ${i}) must be a constant known when the graph is built`);
  return t.known as number[];
}

function knownDims(c: Ctx, i: number, what: string): Dim[] {
  const t = arg(c, i);
  if (!t.known) throw new Error(`${what} (input ${i}) must be known when the graph is built`);
  return [...t.known];
}

function sameType(c: Ctx, ts: Tensor[]): DType {
  const d = ts[0].dtype;
  for (const t of ts)
    if (t.dtype !== d)
      throw new Error(`inputs must share one element type, got ${ts.map((x) => x.dtype).join(', ')}`);
  return d;
}

const unary: Rule = (c) => [{ dtype: arg(c, 0).dtype, shape: [...arg(c, 0).shape] }];

const broadcastSame: Rule = (c) => {
  const ts = c.inputs.map((_, i) => arg(c, i));
  return [
    {
      dtype: sameType(c, ts),
      shape: broadcastShapes(
        c.op,
        ts.map((t) => t.shape),
      ),
    },
  ];
};

const compare: Rule = (c) => {
  const [out] = broadcastSame(c);
  return [{ dtype: 'bool', shape: out.shape }];
};

const withAxis: Rule = (c) => {
  const x = arg(c, 0);
  normAxis(intAttr(c.attrs, 'axis', -1), x.rank, c.op);
  return unary(c);
};

function addDims(a: Dim, b: Dim): Dim {
  return typeof a === 'number' && typeof b === 'number' ? a + b : `${a}+${b}`;
}

/** Reductions take axes as an input from opset 18 (ReduceSum from 13). */
const reduce: Rule = (c) => {
  const x = arg(c, 0);
  const keep = intAttr(c.attrs, 'keepdims', 1) === 1;
  const noop = intAttr(c.attrs, 'noop_with_empty_axes', 0) === 1;
  const given = c.inputs[1] ? knownInts(c, 1, 'axes') : [];
  if (given.length === 0 && noop) return unary(c);
  const axes = given.length === 0 ? x.shape.map((_, i) => i) : given.map((a) => normAxis(a, x.rank, c.op));
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.includes(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
};

function matmulShape(a: Shape, b: Shape): Dim[] {
  if (a.length === 0 || b.length === 0) throw new Error('MatMul needs inputs of rank >= 1');
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const k1 = a2[a2.length - 1];
  const k2 = b2[b2.length - 2];
  if (k1 !== k2) throw new Error(`inner dimensions differ: ${formatShape(a)} x ${formatShape(b)}`);
  const batch = broadcastShapes('MatMul batch', [a2.slice(0, -2), b2.slice(0, -2)]);
  const out: Dim[] = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  return out;
}

function sliceDim(d: Dim, start: number, end: number, step: number, unknown: () => string): Dim {
  const full = step === 1 && start === 0 && end >= 2 ** 31 - 1;
  if (typeof d !== 'number') return full ? d : unknown();
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = clamp(s, 0, d);
    e = clamp(e, 0, d);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  s = clamp(s, -1, d - 1);
  e = clamp(e, -1, d - 1);
  return Math.max(0, Math.ceil((s - e) / -step));
}

const RULES: Record<string, Rule> = {
  Identity: unary,
  Neg: unary,
  Abs: unary,
  Sqrt: unary,
  Reciprocal: unary,
  Exp: unary,
  Log: unary,
  Sigmoid: unary,
  Tanh: unary,
  Erf: unary,
  Cos: unary,
  Sin: unary,
  Relu: unary,
  Not: unary,
  Trilu: unary,
  Softmax: withAxis,
  LogSoftmax: withAxis,
  Add: broadcastSame,
  Sub: broadcastSame,
  Mul: broadcastSame,
  Div: broadcastSame,
  Max: broadcastSame,
  Min: broadcastSame,
  Sum: broadcastSame,
  Pow: (c) => [{ dtype: arg(c, 0).dtype, shape: broadcastShapes(c.op, [arg(c, 0).shape, arg(c, 1).shape]) }],
  Equal: compare,
  Less: compare,
  LessOrEqual: compare,
  Greater: compare,
  GreaterOrEqual: compare,
  And: compare,
  Or: compare,
  Where: (c) => {
    const [cond, a, b] = [arg(c, 0), arg(c, 1), arg(c, 2)];
    if (cond.dtype !== 'bool') throw new Error(`condition must be bool, got ${cond.dtype}`);
    return [{ dtype: sameType(c, [a, b]), shape: broadcastShapes(c.op, [cond.shape, a.shape, b.shape]) }];
  },
  Cast: (c) => {
    const to = dtypeFromOnnx(intAttr(c.attrs, 'to', 0));
    const x = arg(c, 0);
    return [
      {
        dtype: to,
        shape: [...x.shape],
        known: to === 'int64' || to === 'int32' ? x.known?.slice() : undefined,
      },
    ];
  },
  MatMul: (c) => [
    { dtype: sameType(c, [arg(c, 0), arg(c, 1)]), shape: matmulShape(arg(c, 0).shape, arg(c, 1).shape) },
  ],
  Gemm: (c) => {
    const [a, b] = [arg(c, 0), arg(c, 1)];
    if (a.rank !== 2 || b.rank !== 2) throw new Error('Gemm needs 2-D A and B');
    const [m, ka] = intAttr(c.attrs, 'transA', 0) ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const [kb, n] = intAttr(c.attrs, 'transB', 0) ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
    if (ka !== kb) throw new Error(`inner dimensions differ (${ka} vs ${kb})`);
    if (c.inputs[2])
      broadcastShapes('Gemm C', [arg(c, 2).shape, [m, n]]).forEach((d, i) => {
        if (d !== [m, n][i])
          throw new Error(`C ${formatShape(arg(c, 2).shape)} does not broadcast to [${m}, ${n}]`);
      });
    return [{ dtype: sameType(c, [a, b]), shape: [m, n] }];
  },
  ReduceSum: reduce,
  ReduceMean: reduce,
  ReduceMax: reduce,
  ReduceMin: reduce,
  ReduceSumSquare: reduce,
  Reshape: (c) => {
    const x = arg(c, 0);
    const target = knownDims(c, 1, 'shape');
    const out = target.map((d, i) => (d === 0 ? x.shape[i] : d));
    if (out.filter((d) => d === -1).length > 1) throw new Error('at most one -1 in the target shape');
    // Cancel the symbolic dims the target keeps; what is left must be numbers that divide evenly.
    const left = [...x.shape];
    let divisor = 1;
    let symbolicLeft = false;
    for (const d of out) {
      if (d === -1) continue;
      if (typeof d === 'number') divisor *= d;
      else if (left.includes(d)) left.splice(left.indexOf(d), 1);
      else symbolicLeft = true;
    }
    const numeric = left.every((d) => typeof d === 'number') && !symbolicLeft;
    const total = numeric ? left.reduce((a, b) => a * b, 1) : NaN;
    const minus = out.indexOf(-1);
    if (minus >= 0) {
      if (numeric && (divisor === 0 || total % divisor !== 0))
        throw new Error(`cannot reshape ${formatShape(x.shape)} to ${formatShape(target)}`);
      out[minus] = numeric ? total / divisor : c.unknown();
    } else if (numeric && total !== divisor)
      throw new Error(
        `cannot reshape ${formatShape(x.shape)} to ${formatShape(target)}: element counts differ`,
      );
    return [{ dtype: x.dtype, shape: out, known: x.known?.slice() }];
  },
  Transpose: (c) => {
    const x = arg(c, 0);
    const perm = intsAttr(c.attrs, 'perm') ?? x.shape.map((_, i) => x.rank - 1 - i);
    if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i))
      throw new Error(`perm [${perm.join(', ')}] is not a permutation of rank ${x.rank}`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
  Unsqueeze: (c) => {
    const x = arg(c, 0);
    const rank = x.rank + knownInts(c, 1, 'axes').length;
    const axes = knownInts(c, 1, 'axes').map((a) => normAxis(a, rank, c.op));
    const out: Dim[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : x.shape[k++]);
    return [{ dtype: x.dtype, shape: out, known: x.known?.slice() }];
  },
  Squeeze: (c) => {
    const x = arg(c, 0);
    const axes = c.inputs[1]
      ? knownInts(c, 1, 'axes').map((a) => normAxis(a, x.rank, c.op))
      : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    for (const a of axes)
      if (x.shape[a] !== 1) throw new Error(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)), known: x.known?.slice() }];
  },
  Slice: (c) => {
    const x = arg(c, 0);
    const starts = knownInts(c, 1, 'starts');
    const ends = knownInts(c, 2, 'ends');
    const axes = c.inputs[3] ? knownInts(c, 3, 'axes') : starts.map((_, i) => i);
    const steps = c.inputs[4] ? knownInts(c, 4, 'steps') : starts.map(() => 1);
    const out = [...x.shape];
    axes.forEach((a, i) => {
      const ax = normAxis(a, x.rank, c.op);
      if (steps[i] === 0) throw new Error('step 0');
      out[ax] = sliceDim(x.shape[ax], starts[i], ends[i], steps[i], c.unknown);
    });
    let known: Dim[] | undefined;
    if (x.known && x.rank === 1 && steps[0] === 1) {
      const n = x.known.length;
      const s = starts[0] < 0 ? Math.max(0, starts[0] + n) : Math.min(starts[0], n);
      const e = ends[0] < 0 ? Math.max(0, ends[0] + n) : Math.min(ends[0], n);
      known = x.known.slice(s, e);
    }
    return [{ dtype: x.dtype, shape: out, known }];
  },
  Concat: (c) => {
    const ts = c.inputs.map((_, i) => arg(c, i));
    const dtype = sameType(c, ts);
    const axis = normAxis(intAttr(c.attrs, 'axis', 0), ts[0].rank, c.op);
    const out = [...ts[0].shape];
    for (const t of ts.slice(1)) {
      if (t.rank !== ts[0].rank)
        throw new Error(`ranks differ: ${ts.map((x) => formatShape(x.shape)).join(', ')}`);
      t.shape.forEach((d, i) => {
        if (i === axis) out[i] = addDims(out[i], d);
        else if (d !== out[i])
          throw new Error(`dimension ${i} differs: ${ts.map((x) => formatShape(x.shape)).join(', ')}`);
      });
    }
    const known = ts.every((t) => t.known) && ts[0].rank === 1 ? ts.flatMap((t) => t.known ?? []) : undefined;
    return [{ dtype, shape: out, known }];
  },
  Expand: (c) => {
    const x = arg(c, 0);
    return [{ dtype: x.dtype, shape: broadcastShapes(c.op, [x.shape, knownDims(c, 1, 'shape')]) }];
  },
  Gather: (c) => {
    const [x, idx] = [arg(c, 0), arg(c, 1)];
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32')
      throw new Error(`indices must be integers, got ${idx.dtype}`);
    const axis = normAxis(intAttr(c.attrs, 'axis', 0), x.rank, c.op);
    const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
    let known: Dim[] | undefined;
    if (x.known && x.rank === 1 && idx.known) {
      const n = x.known.length;
      known = (idx.known as number[]).map((i) => x.known![i < 0 ? i + n : i]);
    }
    return [{ dtype: x.dtype, shape, known }];
  },
  Shape: (c) => {
    const x = arg(c, 0);
    const start = intAttr(c.attrs, 'start', 0);
    const end = intAttr(c.attrs, 'end', x.rank);
    const dims = x.shape.slice(start < 0 ? start + x.rank : start, end < 0 ? end + x.rank : end);
    return [{ dtype: 'int64', shape: [dims.length], known: [...dims] }];
  },
  ConstantOfShape: (c) => {
    const v = c.attrs.value;
    const dtype = v?.kind === 'tensor' ? dtypeFromOnnx(v.value.dataType ?? 1) : 'float32';
    return [{ dtype, shape: knownDims(c, 0, 'shape') }];
  },
  Range: (c) => {
    const ts = [arg(c, 0), arg(c, 1), arg(c, 2)];
    const k = ts.map((t) => t.known?.[0]);
    const len =
      k.every((v) => typeof v === 'number') && k[2] !== 0
        ? Math.max(0, Math.ceil((k[1] - k[0]) / k[2]))
        : c.unknown();
    return [{ dtype: sameType(c, ts), shape: [len] }];
  },
  ScatterND: unary,
  Unique: (c) => {
    const x = arg(c, 0);
    if (x.rank !== 1 || c.attrs.axis) throw new Error('only a 1-D input without an axis');
    const u = c.unknown();
    return [
      { dtype: x.dtype, shape: [u] },
      { dtype: 'int64', shape: [u] },
      { dtype: 'int64', shape: [...x.shape] },
      { dtype: 'int64', shape: [u] },
    ];
  },
  ScatterElements: unary,
  Pad: (c) => {
    const x = arg(c, 0);
    const pads = knownInts(c, 1, 'pads');
    const axes = c.inputs[3]
      ? knownInts(c, 3, 'axes').map((a) => normAxis(a, x.rank, c.op))
      : x.shape.map((_, i) => i);
    if (pads.length !== 2 * axes.length)
      throw new Error(`pads has ${pads.length} values for ${axes.length} axes`);
    const out = [...x.shape];
    axes.forEach((a, i) => {
      out[a] = addDims(addDims(x.shape[a], pads[i]), pads[i + axes.length]);
    });
    return [{ dtype: x.dtype, shape: out }];
  },
  Split: (c) => {
    const x = arg(c, 0);
    const axis = normAxis(intAttr(c.attrs, 'axis', 0), x.rank, c.op);
    const sizes = c.inputs[1] ? knownInts(c, 1, 'split') : undefined;
    if (!sizes) throw new Error('Split needs explicit split sizes here');
    if (sizes.length !== c.nOutputs) throw new Error(`${sizes.length} sizes for ${c.nOutputs} outputs`);
    return sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? s : d)) }));
  },
  Clip: unary,
  ArgMax: (c) => {
    const x = arg(c, 0);
    const axis = normAxis(intAttr(c.attrs, 'axis', 0), x.rank, c.op);
    const keep = intAttr(c.attrs, 'keepdims', 1) === 1;
    const shape = keep ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
    return [{ dtype: 'int64', shape }];
  },
  GatherElements: (c) => {
    const [x, idx] = [arg(c, 0), arg(c, 1)];
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32')
      throw new Error(`indices must be integers, got ${idx.dtype}`);
    if (idx.rank !== x.rank) throw new Error(`indices have rank ${idx.rank}, data ${x.rank}`);
    normAxis(intAttr(c.attrs, 'axis', 0), x.rank, c.op);
    return [{ dtype: x.dtype, shape: [...idx.shape] }];
  },
  CumSum: (c) => {
    const axis = arg(c, 1);
    if ((axis.dtype !== 'int64' && axis.dtype !== 'int32') || axis.rank > 1)
      throw new Error(`axis must be an integer scalar, got ${axis.dtype}${formatShape(axis.shape)}`);
    return unary(c);
  },
  TopK: (c) => {
    const [x, k] = [arg(c, 0), arg(c, 1)];
    if (k.dtype !== 'int64' || k.rank !== 1 || k.shape[0] !== 1)
      throw new Error(`k must be int64[1], got ${k.dtype}${formatShape(k.shape)}`);
    const axis = normAxis(intAttr(c.attrs, 'axis', -1), x.rank, c.op);
    const kept = typeof k.known?.[0] === 'number' ? k.known[0] : c.unknown();
    const shape = x.shape.map((d, i) => (i === axis ? kept : d));
    return [
      { dtype: x.dtype, shape },
      { dtype: 'int64', shape: [...shape] },
    ];
  },
};

export function inferOutputs(
  op: string,
  inputs: readonly (Tensor | null)[],
  attrs: Attrs,
  nOutputs: number,
  unknown: () => string,
): OutInfo[] {
  const rule = RULES[op];
  if (!rule) throw new Error(`the builder has no shape rule for op '${op}'`);
  return rule({ op, inputs, attrs, nOutputs, unknown });
}
