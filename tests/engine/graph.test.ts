import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { Graph, OPSET, createSession, ortTensor, ops as o, serialize } from '../../engine/onnx';
import { externalRefsOf, serializeForSession } from '../../engine/onnx/serialize';

describe('graph builder', () => {
  test('serializeForSession: the named initializers reach onnxruntime from memory, not the protobuf', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [1, 3]);
    const weight = Float32Array.from({ length: 3 * 200_000 }, (_, i) => Math.cos(i));
    const w = g.initializer('w', 'float32', [3, 200_000], weight);
    g.output(o.reduceSum(o.matmul(x, w)), 'y');
    const { model, externalData } = serializeForSession(g, new Set(['w']));
    expect(model.byteLength).toBeLessThan(1000); // the weight's 2.4 MB are not in it
    expect([...externalRefsOf(model).keys()]).toEqual(['w']);
    expect(externalData).toHaveLength(1);
    expect(externalData[0].data.buffer).toBe(weight.buffer); // a view, no copy
    const session = await ort.InferenceSession.create(model, { externalData });
    const inline = await createSession(g);
    const feeds = { x: ortTensor('float32', [0.5, -1, 2], [1, 3]) };
    const [got, want] = [await session.run(feeds), await inline.run(feeds)];
    expect(got.y.data).toEqual(want.y.data);
    expect(Number(want.y.data[0])).not.toBe(0);
  });

  test('prune removes what no output depends on, with the constants only it read', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2, 3]);
    const used = o.mul(x, 3);
    const dead = o.add(o.reshape(o.exp(x), [3, 2]), 7); // read by nothing that is output
    g.output(o.reduceSum(used), 'y');
    expect(g.prune()).toBe(3); // Exp, Reshape, Add
    expect(g.nodes.map((n) => n.op)).not.toContain('Exp');
    expect(g.producer.has(dead.name)).toBe(false);
    const constants = g.initializers.map((i) => Array.from(i.data as ArrayLike<number | bigint>, Number));
    expect(constants).not.toContainEqual([3, 2]); // the Reshape's shape
    expect(constants).not.toContainEqual([7]);
    expect(g.scalar(7, 'float32').name).not.toBe(dead.name); // a pruned scalar is made anew when asked again
    const out = await (await createSession(g)).run({ x: ortTensor('float32', [1, 2, 3, 4, 5, 6], [2, 3]) });
    expect(Number(out.y.data[0])).toBe(63);
  });

  test('after(x, deps) is x, computed once deps are', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2, 2]);
    const d = o.exp(g.input('d', 'float32', [3]));
    const y = o.after(x, [d, o.mul(d, 2)]);
    expect(y.shape).toEqual([2, 2]);
    expect(o.after(x, [])).toBe(x);
    // y reads d through the graph: d's producer is among y's ancestors.
    const ancestors = new Set<string>();
    const visit = (name: string) => {
      const n = g.producer.get(name);
      if (!n) return;
      for (const t of n.inputs) {
        if (!t || ancestors.has(t.name)) continue;
        ancestors.add(t.name);
        visit(t.name);
      }
    };
    visit(y.name);
    expect(ancestors.has(d.name)).toBe(true);
    g.output(y, 'y');
    const run = (dv: number) =>
      createSession(g).then((s) =>
        s.run({
          x: ortTensor('float32', [1, -2, 0.5, -0], [2, 2]),
          d: ortTensor('float32', [dv, 0, 0], [3]),
        }),
      );
    expect(Array.from((await run(1)).y.data as Float32Array)).toEqual([1, -2, 0.5, 0]);
    expect(Number.isNaN((await run(Infinity)).y.data[0])).toBe(true); // a non-finite dependency shows
  });

  test('tracks dtypes and shapes, including symbolic dims through Shape/Gather/Concat', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 'seq', 8]);
    expect(o.matmul(x, g.input('w', 'float32', [8, 5])).shape).toEqual(['batch', 'seq', 5]);
    const heads = o.reshape(x, [0, 0, 2, 4]);
    expect(heads.shape).toEqual(['batch', 'seq', 2, 4]);
    expect(o.transpose(heads, [0, 2, 1, 3]).shape).toEqual(['batch', 2, 'seq', 4]);
    const dims = o.concat([o.gather(o.shapeOf(x), g.ints([0, 1])), g.ints([2, 4])], 0);
    expect(dims.known).toEqual(['batch', 'seq', 2, 4]);
    expect(o.reshapeTo(x, dims).shape).toEqual(['batch', 'seq', 2, 4]);
    expect(o.reshape(heads, [0, 0, -1]).shape).toEqual(['batch', 'seq', 8]);
    expect(o.reshape(heads, [-1, 4]).shape[1]).toBe(4);
    expect(o.reduceMean(x, [-1], true).shape).toEqual(['batch', 'seq', 1]);
    expect(o.equal(x, 0).dtype).toBe('bool');
    expect(o.cast(x, 'float64').dtype).toBe('float64');
    const past = g.input('past', 'float32', ['batch', 2, 'past', 4]);
    expect(o.concat([past, o.transpose(heads, [0, 2, 1, 3])], 2).shape).toEqual(['batch', 2, 'past+seq', 4]);
  });

  test('fails early with the op and the shapes in the message', () => {
    const g = new Graph();
    const a = g.input('a', 'float32', [2, 3]);
    const b = g.input('b', 'float32', [4, 5]);
    expect(() => o.matmul(a, b)).toThrow('MatMul(float32[2, 3], float32[4, 5]): inner dimensions differ');
    expect(() => o.add(a, b)).toThrow(/Add\(float32\[2, 3\], float32\[4, 5\]\).*cannot broadcast/);
    expect(() => o.reshape(a, [4, 2])).toThrow(/Reshape.*cannot reshape \[2, 3\]/);
    expect(() => o.add(a, g.input('c', 'float64', [3]))).toThrow(/one element type/);
    expect(() => g.input('a', 'float32', [1])).toThrow(/already used/);
    expect(() => g.op('NoSuchOp', [a])).toThrow(/no shape rule for op 'NoSuchOp'/);
    const other = new Graph('other');
    expect(() => o.add(a, other.input('z', 'float32', [3]))).toThrow(/belongs to graph other/);
  });

  test('serialises a ModelProto at opset 18 that onnxruntime runs', async () => {
    const g = new Graph('affine');
    const x = g.input('x', 'float32', ['n', 2]);
    const w = g.initializer('w', 'float32', [2, 2], new Float32Array([1, 2, 3, 4]));
    g.output(o.add(o.matmul(x, w), 1), 'y');
    const model = onnx.ModelProto.decode(serialize(g).model);
    expect(Number(model.opsetImport[0].version)).toBe(OPSET);
    expect(model.graph?.input?.[0].type?.tensorType?.shape?.dim?.[0].dimParam).toBe('n');
    const s = await createSession(g);
    const out = await s.run({ x: ortTensor('float32', [1, 1, 0, 2], [2, 2]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([5, 7, 7, 9]);
  });

  test('the sampling ops (TopK, CumSum, ArgMax, GatherElements, ReduceMin): shapes and values', async () => {
    const g = new Graph('sampling');
    const x = g.input('x', 'float64', ['rows', 5]);
    const k = g.input('k', 'int64', [1]);
    const [values, indices] = o.topK(x, k, 1);
    expect(values.shape).toEqual(['rows', expect.any(String)]);
    expect(indices.dtype).toBe('int64');
    expect(o.topK(x, 2, 1)[0].shape).toEqual(['rows', 2]);
    const cum = o.cumSum(x, 1);
    expect(cum.shape).toEqual(['rows', 5]);
    const first = o.argMax(x, 1);
    expect(first.shape).toEqual(['rows', 1]);
    const picked = o.gatherElements(x, first, 1);
    expect(picked.shape).toEqual(['rows', 1]);
    const bad = new Graph('bad-k');
    expect(() => o.topK(bad.input('x', 'float32', [2, 5]), bad.input('k', 'float32', [1]), 1)).toThrow(
      /k must be int64\[1\]/,
    );
    g.output(o.reduceMin(values, [1], true), 'kth');
    g.output(indices, 'indices');
    g.output(cum, 'cum');
    g.output(first, 'first');
    g.output(picked, 'picked');
    const s = await createSession(g);
    const out = await s.run({
      x: ortTensor('float64', [1, 3, 3, 0.5, 2, 4, 1, 2, 4, 0], [2, 5]),
      k: ortTensor('int64', [3], [1]),
    });
    expect(Array.from(out.kth.data as Float64Array)).toEqual([2, 2]);
    // Largest first; ties to the lower index.
    expect(Array.from(out.indices.data as BigInt64Array, Number)).toEqual([1, 2, 4, 0, 3, 2]);
    expect(Array.from(out.cum.data as Float64Array)).toEqual([1, 4, 7, 7.5, 9.5, 4, 5, 7, 11, 11]);
    expect(Array.from(out.first.data as BigInt64Array, Number)).toEqual([1, 0]);
    expect(Array.from(out.picked.data as Float64Array)).toEqual([3, 4]);
  });

  test('large initializers go to external data that onnxruntime loads from disk', async () => {
    const g = new Graph('external');
    const x = g.input('x', 'float32', [1, 64]);
    const w = g.initializer(
      'w',
      'float32',
      [64, 64],
      Float32Array.from({ length: 64 * 64 }, (_, k) => (k % 7) - 3),
    );
    const b = g.initializer(
      'b',
      'float32',
      [64],
      Float32Array.from({ length: 64 }, (_, k) => k),
    );
    g.output(o.add(o.matmul(x, w), b), 'y');
    const { model, externalData } = serialize(g, {
      externalThresholdBytes: 1024,
      externalLocation: 'model.onnx_data',
    });
    expect(Buffer.concat(externalData!).byteLength).toBe(64 * 64 * 4);
    const dir = mkdtempSync(join(tmpdir(), 'lmsi-onnx-'));
    try {
      writeFileSync(join(dir, 'model.onnx'), model);
      writeFileSync(join(dir, 'model.onnx_data'), Buffer.concat(externalData!));
      const fromDisk = await ort.InferenceSession.create(join(dir, 'model.onnx'));
      const inline = await createSession(g);
      const feeds = {
        x: ortTensor(
          'float32',
          Float32Array.from({ length: 64 }, (_, k) => k / 64),
          [1, 64],
        ),
      };
      const [a, c] = [await fromDisk.run(feeds), await inline.run(feeds)];
      expect(Array.from(a.y.data as Float32Array)).toEqual(Array.from(c.y.data as Float32Array));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
