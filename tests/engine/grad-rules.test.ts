import { Rng, deriveSeed } from '../../base/rng';
import { GRAD_RULES, Graph, type Tensor, createSession, grad, ops as o, ortTensor } from '../../engine/onnx';
import { type CheckInput, expectClose, gradCheck } from './gradcheck';

type Case = [name: string, inputs: CheckInput[], build: (g: Graph, xs: Tensor[]) => Tensor];

const f = (shape: number[], range?: [number, number]): CheckInput => ({ shape, range });
const POS: [number, number] = [0.5, 2];
const AWAY: [number, number] = [0.5, 1.5];

/** Each primitive op with at least one case; binary ops also under numpy broadcasting. */
const CASES: Case[] = [
  ['Identity', [f([2, 3])], (_, [x]) => o.identity(x)],
  ['Neg', [f([2, 3])], (_, [x]) => o.neg(x)],
  ['Sqrt', [f([2, 3], POS)], (_, [x]) => o.sqrt(x)],
  ['Reciprocal', [f([2, 3], AWAY)], (_, [x]) => o.reciprocal(x)],
  ['Exp', [f([2, 3])], (_, [x]) => o.exp(x)],
  ['Log', [f([2, 3], POS)], (_, [x]) => o.log(x)],
  ['Sigmoid', [f([2, 3], [-3, 3])], (_, [x]) => o.sigmoid(x)],
  ['Tanh', [f([2, 3], [-2, 2])], (_, [x]) => o.tanh(x)],
  ['Relu', [f([3, 4])], (_, [x]) => o.relu(x)],
  ['Softmax last axis', [f([2, 4], [-2, 2])], (_, [x]) => o.softmax(x, -1)],
  ['Softmax axis 0 rank 3', [f([3, 2, 2], [-2, 2])], (_, [x]) => o.softmax(x, 0)],
  ['LogSoftmax last axis', [f([2, 5], [-2, 2])], (_, [x]) => o.logSoftmax(x, -1)],
  ['LogSoftmax axis 1 rank 3', [f([2, 3, 2], [-2, 2])], (_, [x]) => o.logSoftmax(x, 1)],
  ['Add same shape', [f([2, 3]), f([2, 3])], (_, [a, b]) => o.add(a, b)],
  ['Add broadcast [2,3]+[3]', [f([2, 3]), f([3])], (_, [a, b]) => o.add(a, b)],
  ['Add broadcast [2,1,3]+[4,1]', [f([2, 1, 3]), f([4, 1])], (_, [a, b]) => o.add(a, b)],
  ['Sub broadcast [1]-[2,3]', [f([1]), f([2, 3])], (_, [a, b]) => o.sub(a, b)],
  ['Sub broadcast [2,3,1]-[3,2]', [f([2, 3, 1]), f([3, 2])], (_, [a, b]) => o.sub(a, b)],
  ['Mul same shape', [f([2, 3]), f([2, 3])], (_, [a, b]) => o.mul(a, b)],
  ['Mul broadcast [2,1,3]*[4,1]', [f([2, 1, 3]), f([4, 1])], (_, [a, b]) => o.mul(a, b)],
  ['Mul broadcast scalar', [f([]), f([2, 3])], (_, [a, b]) => o.mul(a, b)],
  ['Div same shape', [f([2, 3]), f([2, 3], AWAY)], (_, [a, b]) => o.div(a, b)],
  ['Div broadcast [2,3]/[2,1]', [f([2, 3]), f([2, 1], AWAY)], (_, [a, b]) => o.div(a, b)],
  ['Div broadcast [3]/[2,3]', [f([3]), f([2, 3], AWAY)], (_, [a, b]) => o.div(a, b)],
  ['Pow same shape', [f([2, 3], POS), f([2, 3], [-1.5, 2.5])], (_, [a, b]) => o.pow(a, b)],
  ['Pow broadcast [2,3]^[1]', [f([2, 3], POS), f([1], [-1.5, 2.5])], (_, [a, b]) => o.pow(a, b)],
  ['Pow constant exponent', [f([2, 3], POS)], (_, [a]) => o.pow(a, 3)],
  ['Min same shape', [f([2, 3]), f([2, 3])], (_, [a, b]) => o.min(a, b)],
  ['Min broadcast [2,3] with [3]', [f([2, 3]), f([3])], (_, [a, b]) => o.min(a, b)],
  ['Min tie splits the gradient', [f([2, 3])], (_, [a]) => o.min(a, a)],
  ['Max same shape', [f([2, 3]), f([2, 3])], (_, [a, b]) => o.max(a, b)],
  ['Max broadcast [2,1] with [2,3]', [f([2, 1]), f([2, 3])], (_, [a, b]) => o.max(a, b)],
  ['Max with a constant (a clamp)', [f([3, 4])], (_, [x]) => o.min(o.max(x, -0.5), 0.5)],
  ['Sum of three, broadcast', [f([2, 3]), f([3]), f([2, 1])], (g, xs) => g.op('Sum', xs)[0]],
  ['MatMul 2-D', [f([3, 4]), f([4, 2])], (_, [a, b]) => o.matmul(a, b)],
  ['MatMul batched', [f([2, 3, 4]), f([2, 4, 2])], (_, [a, b]) => o.matmul(a, b)],
  ['MatMul broadcast batch', [f([2, 1, 3, 4]), f([3, 4, 2])], (_, [a, b]) => o.matmul(a, b)],
  ['Gemm', [f([3, 4]), f([4, 2]), f([2])], (_, [a, b, c]) => o.gemm(a, b, c, { alpha: 0.7, beta: 1.3 })],
  [
    'Gemm transA',
    [f([4, 3]), f([4, 2]), f([3, 2])],
    (_, [a, b, c]) => o.gemm(a, b, c, { transA: true, beta: 0.5 }),
  ],
  [
    'Gemm transB',
    [f([3, 4]), f([2, 4]), f([3, 1])],
    (_, [a, b, c]) => o.gemm(a, b, c, { transB: true, alpha: 2 }),
  ],
  [
    'Gemm transA transB, no C',
    [f([4, 3]), f([2, 4])],
    (_, [a, b]) => o.gemm(a, b, null, { transA: true, transB: true }),
  ],
  ['ReduceSum axis 1 keepdims', [f([2, 3, 2])], (_, [x]) => o.reduceSum(x, [1], true)],
  ['ReduceSum axes [0,2]', [f([2, 3, 2])], (_, [x]) => o.reduceSum(x, [0, -1])],
  ['ReduceSum all axes', [f([2, 3])], (_, [x]) => o.reduceSum(x)],
  ['ReduceMean axis -1 keepdims', [f([2, 3, 4])], (_, [x]) => o.reduceMean(x, [-1], true)],
  ['ReduceMean axes [0,1]', [f([2, 3, 2])], (_, [x]) => o.reduceMean(x, [0, 1])],
  [
    'Gather embedding with repeated ids',
    [f([5, 3]), { shape: [2, 4], dtype: 'int64', data: [0, 2, 2, 4, 1, 0, 2, 2] }],
    (_, [e, ids]) => o.gather(e, ids),
  ],
  [
    'Gather from a table with more rows than ids (a real vocabulary: over the distinct ids)',
    [f([11, 3]), { shape: [2, 3], dtype: 'int64', data: [7, 2, 7, 10, 0, 7] }],
    (_, [e, ids]) => o.gather(e, ids),
  ],
  [
    'GatherElements last axis (the cross-entropy pick)',
    [f([2, 3, 5]), { shape: [2, 3, 1], dtype: 'int64', data: [4, 0, 2, 2, 1, 3] }],
    (_, [x, idx]) => o.gatherElements(x, idx, -1),
  ],
  [
    'GatherElements axis 0 with repeated positions',
    [
      f([3, 4]),
      { shape: [5, 4], dtype: 'int64', data: [0, 1, 2, 0, 2, 2, 1, 0, 0, 0, 0, 1, 1, 2, 0, 2, 2, 1, 1, 0] },
    ],
    (_, [x, idx]) => o.gatherElements(x, idx, 0),
  ],
  ['Reshape with 0 and -1', [f([2, 3, 2])], (_, [x]) => o.reshape(x, [0, -1])],
  ['Reshape', [f([2, 3, 2])], (_, [x]) => o.reshape(x, [3, 4])],
  ['Transpose', [f([2, 3, 4])], (_, [x]) => o.transpose(x, [2, 0, 1])],
  ['Unsqueeze', [f([2, 3])], (_, [x]) => o.unsqueeze(x, [0, -1])],
  ['Squeeze', [f([2, 1, 3, 1])], (_, [x]) => o.squeeze(x, [1, 3])],
  ['Slice two axes', [f([4, 5])], (_, [x]) => o.slice(x, [1, -3], [3, 100], [0, 1])],
  ['Slice default axes', [f([3, 4])], (_, [x]) => o.slice(x, [0, 1], [2, 3])],
  ['Concat axis 1', [f([2, 1]), f([2, 3]), f([2, 2])], (_, xs) => o.concat(xs, 1)],
  ['Split into two used parts', [f([4, 3])], (_, [x]) => ((p) => o.mul(p[0], p[1]))(o.split(x, [2, 2], 0))],
  ['Split with one part unused', [f([2, 5])], (_, [x]) => o.split(x, [2, 3], 1)[1]],
  ['Expand', [f([3, 1])], (_, [x]) => o.expand(x, [2, 3, 4])],
  [
    'Where broadcast',
    [{ shape: [2, 3], dtype: 'bool', data: [1, 0, 0, 1, 1, 0] }, f([2, 3]), f([3])],
    (_, [c, a, b]) => o.where(c, a, b),
  ],
  ['Cast float64 to float64', [f([2, 3])], (_, [x]) => o.cast(x, 'float64')],
  [
    'Cast of integers carries no gradient',
    [f([2, 3]), { shape: [3], dtype: 'int64', data: [1, 2, 3] }],
    (_, [x, k]) => o.mul(x, o.cast(k, 'float64')),
  ],
];

describe('gradient rules agree with central finite differences (float64, onnxruntime)', () => {
  test.each(CASES)('%s', async (name, inputs, build) => {
    expectClose(await gradCheck(deriveSeed('grad-rules', name), inputs, build));
  });

  test('every rule in the table is exercised above', () => {
    const covered = new Set<string>();
    for (const [name] of CASES) covered.add(name.split(' ')[0]);
    for (const op of Object.keys(GRAD_RULES))
      expect({ op, covered: covered.has(op) }).toEqual({ op, covered: true });
  });
});

describe('Gather gradient on several threads', () => {
  // With ScatterND(reduction 'add') this gradient differed from run to run on 2 onnxruntime threads
  // (at these sizes, the demo's embedding and batch); the rule is one-hot(ids)ᵀ · g, which must give
  // the per-row sums identically run after run.
  test.each([
    ['a table smaller than the batch (one-hot over the table)', 128, 3584],
    ['a real vocabulary (one-hot over the distinct ids)', 32000, 1024],
  ])('repeated ids sum exactly and reproducibly with intraOpNumThreads 2: %s', async (_, V, N) => {
    const C = 128;
    const g = new Graph('gather-grad');
    const table = g.input('table', 'float32', [V, C]);
    const ids = g.input('ids', 'int64', [N]);
    const w = g.input('w', 'float32', [N, C]);
    const loss = o.reduceSum(o.mul(o.gather(table, ids), w));
    g.output(grad(loss, [table])[0], 'd_table');
    const session = await createSession(g, { intraOpNumThreads: 2, interOpNumThreads: 1 });
    const rng = new Rng(7);
    // Ids drawn from fewer rows than the batch holds, so many repeat.
    const idData = BigInt64Array.from({ length: N }, () => BigInt(Math.floor(rng.next() * Math.min(V, 300))));
    const wData = Float32Array.from({ length: N * C }, () => rng.next() - 0.5);
    const feeds = {
      table: ortTensor('float32', new Float32Array(V * C), [V, C]),
      ids: ortTensor('int64', idData, [N]),
      w: ortTensor('float32', wData, [N, C]),
    };
    const expected = new Float64Array(V * C);
    for (let n = 0; n < N; n++) {
      const row = Number(idData[n]);
      for (let c = 0; c < C; c++) expected[row * C + c] += wData[n * C + c];
    }
    const first = (await session.run(feeds)).d_table.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < V * C; i++) worst = Math.max(worst, Math.abs(first[i] - expected[i]));
    expect(worst).toBeLessThan(1e-3);
    for (let run = 0; run < 3; run++) {
      const again = (await session.run(feeds)).d_table.data as Float32Array;
      expect(Buffer.from(again.buffer).equals(Buffer.from(first.buffer))).toBe(true);
    }
    await session.release();
  });
});
