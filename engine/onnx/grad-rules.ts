import { intAttr, intsAttr } from './attrs';
import { isFloat } from './dtype';
import type { Node, Tensor } from './graph';
import * as o from './ops';
import { type Shape, broadcastAxes, formatShape, isConcrete, normAxis } from './shape';

/**
 * The gradient rules, one entry per primitive op. A rule receives the node, its inputs x, outputs y
 * and the gradient of the loss with respect to each output (gy; null where no gradient flows), and
 * returns, per input, a thunk building that input's gradient (null: the input takes none, e.g. an
 * index or a shape). Thunks run only for inputs on a path from the differentiated tensors, so
 * e.g. Pow's log(base) is never built for a constant exponent.
 */
export interface GradArgs {
  node: Node;
  x: readonly Tensor[];
  y: readonly Tensor[];
  /** Gradient of the first output: almost every op has one output. */
  g: Tensor;
  gy: readonly (Tensor | null)[];
}
export type GradThunk = (() => Tensor) | null;
export type GradRule = (a: GradArgs) => GradThunk[];

/** Sums a gradient over the axes along which `to` was broadcast, giving it `to`'s shape. */
export function unbroadcast(g: Tensor, to: Shape): Tensor {
  const { leading, ones } = broadcastAxes(to, g.shape);
  if (leading.length === 0 && ones.length === 0) return g;
  const summed = o.reduceSum(g, [...leading, ...ones], true);
  return leading.length ? o.squeeze(summed, leading) : summed;
}

/** The shape of `t` as an int64 tensor: a constant when static, Shape(t) when symbolic. */
function shapeLike(t: Tensor): Tensor {
  return isConcrete(t.shape) ? t.graph.ints(t.shape) : o.shapeOf(t);
}

/**
 * Zeros of `shape`, made only once g exists (`after`): a constant there would be folded by
 * onnxruntime into an initializer the session holds for its whole life (the size of the logits, or
 * of the embedding) rather than allocated when the backward pass gets there (a non-finite g fails
 * the step either way).
 */
function zerosAfter(g: Tensor, shape: Tensor): Tensor {
  return o.expand(o.after(g.graph.scalar(0, g.dtype), [g]), shape);
}

/** Swaps the last two axes. */
function mT(t: Tensor): Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return o.transpose(t, perm);
}

function axesInput(n: Node, i: number, rank: number): number[] | undefined {
  const t = n.inputs[i];
  return t ? (t.known as number[]).map((a) => normAxis(a, rank, n.op)) : undefined;
}

function unsupported(n: Node, why: string): never {
  throw new Error(`gradient of ${n.op} (node ${n.name}): ${why}`);
}

/** Gradient of a reduction's output, broadcast back over the input; `scale` turns a sum into a mean. */
function reduceGrad({ node, x, g }: GradArgs, mean: boolean): Tensor {
  const axes = axesInput(node, 1, x[0].rank) ?? x[0].shape.map((_, i) => i);
  if (axes.length === 0 && intAttr(node.attrs, 'noop_with_empty_axes', 0) === 1) return g;
  const kept =
    intAttr(node.attrs, 'keepdims', 1) === 1
      ? g
      : o.unsqueeze(
          g,
          [...axes].sort((p, q) => p - q),
        );
  const back = o.expand(kept, shapeLike(x[0]));
  if (!mean) return back;
  const dims = axes.map((a) => x[0].shape[a]);
  if (!dims.every((d) => typeof d === 'number'))
    unsupported(node, `mean over symbolic dims ${formatShape(dims)}`);
  return o.div(
    back,
    dims.reduce((p, q) => p * q, 1),
  );
}

/** Min / Max of two operands: each receives g where it is strictly the result, g / 2 where they tie. */
function extremumGrad({ node, x, g }: GradArgs, wins: (a: Tensor, b: Tensor) => Tensor): GradThunk[] {
  if (x.length !== 2) unsupported(node, `${x.length} operands (only 2)`);
  const share = (mine: Tensor, other: Tensor) =>
    unbroadcast(o.where(wins(mine, other), g, o.where(o.equal(mine, other), o.mul(g, 0.5), 0)), mine.shape);
  return [() => share(x[0], x[1]), () => share(x[1], x[0])];
}

export const GRAD_RULES: Readonly<Record<string, GradRule>> = {
  Identity: ({ g }) => [() => g],
  Neg: ({ g }) => [() => o.neg(g)],
  Add: ({ x, g }) => [() => unbroadcast(g, x[0].shape), () => unbroadcast(g, x[1].shape)],
  Sub: ({ x, g }) => [() => unbroadcast(g, x[0].shape), () => unbroadcast(o.neg(g), x[1].shape)],
  Mul: ({ x, g }) => [
    () => unbroadcast(o.mul(g, x[1]), x[0].shape),
    () => unbroadcast(o.mul(g, x[0]), x[1].shape),
  ],
  // d(a/b)/db = -a/b² = -y/b
  Div: ({ x, y, g }) => [
    () => unbroadcast(o.div(g, x[1]), x[0].shape),
    () => unbroadcast(o.neg(o.div(o.mul(g, y[0]), x[1])), x[1].shape),
  ],
  // d(a^b)/da = b·a^(b-1); d(a^b)/db = a^b·ln a (defined for a > 0)
  Pow: ({ x, y, g }) => [
    () => unbroadcast(o.mul(g, o.mul(x[1], o.pow(x[0], o.sub(x[1], 1)))), x[0].shape),
    () => unbroadcast(o.mul(g, o.mul(y[0], o.log(x[0]))), x[1].shape),
  ],
  Sum: ({ x, g }) => x.map((xi) => () => unbroadcast(g, xi.shape)),
  // The gradient goes to the operand that is the result; a tie splits it in half (PyTorch's
  // minimum/maximum), so min(a, a) passes the whole gradient, as the PPO clip at ratio 1 needs.
  Min: (a) => extremumGrad(a, o.less),
  Max: (a) => extremumGrad(a, o.greater),
  Sqrt: ({ y, g }) => [() => o.div(o.mul(g, 0.5), y[0])],
  Reciprocal: ({ y, g }) => [() => o.neg(o.mul(g, o.mul(y[0], y[0])))],
  Exp: ({ y, g }) => [() => o.mul(g, y[0])],
  Log: ({ x, g }) => [() => o.div(g, x[0])],
  Sigmoid: ({ y, g }) => [() => o.mul(g, o.mul(y[0], o.sub(1, y[0])))],
  Tanh: ({ y, g }) => [() => o.mul(g, o.sub(1, o.mul(y[0], y[0])))],
  Relu: ({ x, g }) => [() => o.where(o.greater(x[0], 0), g, 0)],
  MatMul: ({ node, x, g }) => {
    if (x[0].rank < 2 || x[1].rank < 2)
      unsupported(node, 'MatMul operands of rank 1 (reshape them to rank 2)');
    return [
      () => unbroadcast(o.matmul(g, mT(x[1])), x[0].shape),
      () => unbroadcast(o.matmul(mT(x[0]), g), x[1].shape),
    ];
  },
  // Y = alpha·op(A)·op(B) + beta·C; each gradient is itself one Gemm.
  Gemm: ({ node, x, g }) => {
    const alpha = node.attrs.alpha?.kind === 'float' ? node.attrs.alpha.value : 1;
    const beta = node.attrs.beta?.kind === 'float' ? node.attrs.beta.value : 1;
    const tA = intAttr(node.attrs, 'transA', 0) === 1;
    const tB = intAttr(node.attrs, 'transB', 0) === 1;
    return [
      () =>
        tA
          ? o.gemm(x[1], g, null, { alpha, transA: tB, transB: true })
          : o.gemm(g, x[1], null, { alpha, transB: !tB }),
      () =>
        tB
          ? o.gemm(g, x[0], null, { alpha, transA: true, transB: tA })
          : o.gemm(x[0], g, null, { alpha, transA: !tA }),
      () => unbroadcast(o.mul(g, beta), x[2].shape),
    ];
  },
  ReduceSum: (a) => [() => reduceGrad(a, false), null],
  ReduceMean: (a) => [() => reduceGrad(a, true), null],
  // dx = y·(g − Σ g·y)
  Softmax: ({ node, y, g }) => {
    const axis = intAttr(node.attrs, 'axis', -1);
    return [() => o.mul(y[0], o.sub(g, o.reduceSum(o.mul(g, y[0]), [axis], true)))];
  },
  // dx = g − softmax(x)·Σ g
  LogSoftmax: ({ node, y, g }) => {
    const axis = intAttr(node.attrs, 'axis', -1);
    return [() => o.sub(g, o.mul(o.exp(y[0]), o.reduceSum(g, [axis], true)))];
  },
  // Embedding lookup: rows gathered k times receive the sum of their k gradients, as
  // one-hot(idx)ᵀ · g. Not ScatterND(reduction 'add'): onnxruntime's multithreaded CPU kernel sums
  // repeated rows in a different order run to run (the demo's first step's gradient norm varied
  // between identical runs on 2 threads, not on 1: docs/demo-history.md, run B). A MatMul gives
  // every output element to one thread in a fixed order: reproducible. The one-hot is over the
  // table's rows when they are no more than the ids (N·V·W multiply-adds); over a real vocabulary
  // (V ≫ N) it is over the batch's distinct ids (Unique), whose summed rows are then written into
  // the zero table once each (ScatterND with distinct indices: no order to vary), at most N·N·W.
  Gather: ({ node, x, g }) => {
    if (normAxis(intAttr(node.attrs, 'axis', 0), x[0].rank, node.op) !== 0)
      unsupported(node, 'only axis 0 (embedding lookup)');
    const table = x[0].shape;
    if (!isConcrete(table)) unsupported(node, 'the gathered table needs a static shape');
    const idx = x[1].dtype === 'int64' ? x[1] : o.cast(x[1], 'int64');
    return [
      () => {
        const [rows, ...rest] = table as number[];
        const width = rest.reduce((a, b) => a * b, 1);
        const ids = o.reshape(idx, [-1]); // [N]
        const gRows = o.reshape(g, [-1, width]); // [N, W]
        const n = ids.shape[0];
        if (typeof n !== 'number' || rows <= n) {
          const all = x[0].graph.ints(Array.from({ length: rows }, (_, i) => i)); // [V]
          const oneHot = o.cast(o.equal(o.unsqueeze(ids, [-1]), all), x[0].dtype); // [N, V]
          return o.reshape(o.matmul(o.transpose(oneHot, [1, 0]), gRows), table); // [V, W]
        }
        const [distinct, , position] = o.unique(ids); // [u], [N]
        const graph = x[0].graph;
        const u = o.reshape(o.shapeOf(distinct), []);
        const slots = o.range(graph.scalar(0, 'int64'), u, graph.scalar(1, 'int64')); // [u]
        const oneHot = o.cast(o.equal(o.unsqueeze(position, [-1]), slots), x[0].dtype); // [N, u]
        const summed = o.matmul(o.transpose(oneHot, [1, 0]), gRows); // [u, W]
        const zeros = zerosAfter(g, graph.ints([rows, width])); // [V, W]
        return o.reshape(o.scatterND(zeros, o.unsqueeze(distinct, [-1]), summed), table);
      },
      null,
    ];
  },
  // Each gathered position receives its gradient, every other one 0; 'add' sums the gradients of a
  // position gathered more than once. One zero tensor the size of the data, scattered into: the
  // cross-entropy's pick of the target's log-probability costs that instead of a one-hot (zerosAfter).
  GatherElements: ({ node, x, g }) => {
    const axis = normAxis(intAttr(node.attrs, 'axis', 0), x[0].rank, node.op);
    const idx = x[1].dtype === 'int64' ? x[1] : o.cast(x[1], 'int64');
    return [() => o.scatterElements(zerosAfter(g, shapeLike(x[0])), idx, g, axis, 'add'), null];
  },
  Reshape: ({ x, g }) => [() => o.reshapeTo(g, shapeLike(x[0])), null],
  Transpose: ({ node, x, g }) => {
    const perm = intsAttr(node.attrs, 'perm') ?? x[0].shape.map((_, i) => x[0].rank - 1 - i);
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [() => o.transpose(g, inv)];
  },
  Unsqueeze: ({ node, y, g }) => [() => o.squeeze(g, axesInput(node, 1, y[0].rank)!), null],
  Squeeze: ({ node, x, g }) => {
    const axes = axesInput(node, 1, x[0].rank) ?? x[0].shape.flatMap((d, i) => (d === 1 ? [i] : []));
    return [() => o.unsqueeze(g, axes), null];
  },
  // The slice's gradient is g zero-padded back to the input's extent.
  Slice: ({ node, x, g }) => {
    const starts = node.inputs[1]!.known as number[];
    const ends = node.inputs[2]!.known as number[];
    const axes = axesInput(node, 3, x[0].rank) ?? starts.map((_, i) => i);
    const steps = (node.inputs[4]?.known as number[] | undefined) ?? starts.map(() => 1);
    if (steps.some((s) => s !== 1)) unsupported(node, `steps [${steps.join(', ')}] (only 1)`);
    const begin: number[] = [];
    const end: number[] = [];
    axes.forEach((a, i) => {
      const d = x[0].shape[a];
      if (typeof d !== 'number') unsupported(node, `slicing symbolic dim '${d}'`);
      const s = Math.min(Math.max(starts[i] < 0 ? starts[i] + d : starts[i], 0), d);
      const e = Math.min(Math.max(ends[i] < 0 ? ends[i] + d : ends[i], s), d);
      begin.push(s);
      end.push(d - e);
    });
    return [() => o.pad(g, axes, begin, end), null, null, null, null];
  },
  Concat: ({ node, x, g }) => {
    const axis = normAxis(intAttr(node.attrs, 'axis', 0), x[0].rank, node.op);
    const sizes = x.map((t) => t.shape[axis]);
    if (!sizes.every((d) => typeof d === 'number'))
      unsupported(node, `symbolic sizes ${formatShape(sizes)} on axis ${axis}`);
    let parts: Tensor[] | undefined;
    return x.map((_, i) => () => (parts ??= o.split(g, sizes, axis))[i]);
  },
  Split: ({ node, y, gy }) => {
    const axis = intAttr(node.attrs, 'axis', 0);
    return [
      () =>
        o.concat(
          gy.map((gi, i) => gi ?? o.full(y[i], shapeLike(y[i]), 0)),
          axis,
        ),
      null,
    ];
  },
  Expand: ({ x, g }) => [() => unbroadcast(g, x[0].shape), null],
  Where: ({ x, g }) => [
    null,
    () => unbroadcast(o.where(x[0], g, 0), x[1].shape),
    () => unbroadcast(o.where(x[0], 0, g), x[2].shape),
  ],
  Cast: ({ x, g }) => [isFloat(x[0].dtype) ? () => o.cast(g, x[0].dtype) : null],
};
