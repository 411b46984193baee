import { deriveSeed } from '../../base/rng';
import { Graph, createSession, grad, ortTensor, ops as o } from '../../engine/onnx';
import { expectClose, gradCheck } from './gradcheck';

describe('autodiff over whole graphs', () => {
  test('fan-out: a tensor read by several nodes receives the sum of their gradients', async () => {
    const r = await gradCheck(deriveSeed('autodiff', 'fan-out'), [{ shape: [3, 3] }], (_, [x]) =>
      o.add(o.add(o.mul(x, o.exp(x)), x), o.matmul(x, o.transpose(x, [1, 0]))),
    );
    expectClose(r);
  });

  test('two-layer MLP with cross-entropy: every parameter and the input', async () => {
    const ids = [0, 3, 1, 3];
    const r = await gradCheck(
      deriveSeed('autodiff', 'mlp'),
      [
        { shape: [4, 3] },
        { shape: [3, 5] },
        { shape: [5] },
        { shape: [5, 4] },
        { shape: [4] },
        { shape: [4], dtype: 'int64', data: ids },
      ],
      (g, [x, w1, b1, w2, b2, target]) => {
        const h = o.tanh(o.add(o.matmul(x, w1), b1)); // [N, H]
        const logp = o.logSoftmax(o.gemm(h, w2, b2)); // [N, V]
        const classes = g.constant('int64', [4], [0, 1, 2, 3]);
        const onehot = o.cast(o.equal(o.unsqueeze(target, [-1]), classes), 'float64'); // [N, V]
        return o.neg(o.reduceMean(o.reduceSum(o.mul(onehot, logp), [-1]))); // []
      },
    );
    expect(r.relErr).toHaveLength(5);
    expectClose(r);
  });

  test('causal self-attention with RMS normalisation and SiLU gate', async () => {
    const T = 3;
    const d = 4;
    const causal = Array.from({ length: T * T }, (_, k) => (k % T <= Math.floor(k / T) ? 1 : 0));
    const r = await gradCheck(
      deriveSeed('autodiff', 'attention'),
      [
        { shape: [2, T, d] },
        { shape: [d, d] },
        { shape: [d, d] },
        { shape: [d, d] },
        { shape: [d], range: [0.5, 1.5] },
      ],
      (g, [x, wq, wk, wv, gain]) => {
        const rms = o.sqrt(o.add(o.reduceMean(o.mul(x, x), [-1], true), 1e-6)); // [B, T, 1]
        const h = o.mul(o.div(x, rms), gain); // [B, T, C]
        const q = o.matmul(h, wq);
        const k = o.matmul(h, wk);
        const v = o.matmul(h, wv);
        const scores = o.div(o.matmul(q, o.transpose(k, [0, 2, 1])), Math.sqrt(d)); // [B, T, T]
        const mask = g.constant('bool', [T, T], causal);
        const att = o.softmax(o.where(mask, scores, -1e9)); // [B, T, T]
        const out = o.matmul(att, v); // [B, T, C]
        return o.mul(out, o.sigmoid(out));
      },
    );
    expectClose(r);
  });

  test('embedding, slice and concat composed (shift-by-one language-model loss)', async () => {
    const r = await gradCheck(
      deriveSeed('autodiff', 'embedding'),
      [{ shape: [6, 3] }, { shape: [3, 6] }, { shape: [1, 4], dtype: 'int64', data: [2, 5, 2, 1] }],
      (g, [emb, head, ids]) => {
        const x = o.gather(emb, ids); // [1, 4, C]
        const logits = o.matmul(o.slice(x, [0], [3], [1]), head); // [1, 3, V]
        const both = o.concat([logits, o.mul(logits, 2)], 0); // [2, 3, V]
        return o.logSoftmax(both);
      },
    );
    expectClose(r);
  });

  test('an op without a rule on the differentiated path throws naming the op', () => {
    const g = new Graph();
    const x = g.input('x', 'float64', [2, 3]);
    const loss = o.reduceSum(o.mul(g.op('Erf', [x])[0], 2));
    expect(() => grad(loss, [x])).toThrow(/no gradient rule for op 'Erf'/);
  });

  test('ops without rules off the differentiated path are fine; unreachable parameters get zeros', async () => {
    const g = new Graph();
    const x = g.input('x', 'float64', [2, 3]);
    const unused = g.input('unused', 'float64', [4]);
    const c = o.max(g.constant('float64', [3], [0.1, -0.2, 0.3]), 0); // Max has no rule
    const loss = o.reduceSum(o.mul(x, c));
    const [gx, gu] = grad(loss, [x, unused]);
    g.output(gx, 'gx');
    g.output(gu, 'gu');
    const s = await createSession(g);
    const out = await s.run({
      x: ortTensor('float64', new Float64Array(6), [2, 3]),
      unused: ortTensor('float64', new Float64Array(4), [4]),
    });
    expect(Array.from(out.gx.data as Float64Array)).toEqual([0.1, 0, 0.3, 0.1, 0, 0.3]);
    expect(Array.from(out.gu.data as Float64Array)).toEqual([0, 0, 0, 0]);
  });

  test('gradients with a symbolic batch dimension run for any batch size', async () => {
    const g = new Graph();
    const x = g.input('x', 'float64', ['batch', 3]);
    const w = g.input('w', 'float64', [3]);
    const y = o.reshape(o.mul(x, w), [0, 3, 1]); // [batch, 3, 1]
    const loss = o.reduceSum(o.mul(y, y));
    const [gx, gw] = grad(loss, [x, w]);
    g.output(gx, 'gx');
    g.output(gw, 'gw');
    const s = await createSession(g);
    const wv = [0.5, -1, 2];
    for (const batch of [1, 4]) {
      const xv = Float64Array.from({ length: batch * 3 }, (_, k) => (k % 5) - 2);
      const out = await s.run({ x: ortTensor('float64', xv, [batch, 3]), w: ortTensor('float64', wv, [3]) });
      const expGx = xv.map((v, k) => 2 * v * wv[k % 3] ** 2);
      const expGw = wv.map((wj, j) => xv.reduce((acc, v, k) => acc + (k % 3 === j ? 2 * v * v * wj : 0), 0));
      expect(Array.from(out.gx.data as Float64Array)).toEqual(Array.from(expGx));
      expect(Array.from(out.gw.data as Float64Array)).toEqual(expGw);
    }
  });
});
