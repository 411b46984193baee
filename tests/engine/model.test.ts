import type * as ort from 'onnxruntime-node';
import { Rng, deriveSeed } from '../../base/rng';
import {
  LlamaConfig,
  TRAIN_IO,
  buildInferenceGraph,
  buildTrainingGraph,
  headDim,
  initParams,
  llamaForward,
  maskedCrossEntropy,
  paramSpecs,
  type Params,
} from '../../engine/model';
import { createSession, ortTensor } from '../../engine/onnx';
import { type CheckInput, expectClose, gradCheck } from './gradcheck';

const tiny = (over: Partial<LlamaConfig> = {}): LlamaConfig =>
  LlamaConfig.parse({
    vocabSize: 13,
    dModel: 16,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    dFF: 24,
    maxSeqLen: 16,
    ...over,
  });

function randomIds(seed: number, n: number, vocab: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(0, vocab - 1));
}

function emptyPast(c: LlamaConfig, batch: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < c.nLayers; i++)
    for (const kv of ['key', 'value'])
      feeds[`past_key_values.${i}.${kv}`] = ortTensor('float32', new Float32Array(0), [
        batch,
        c.nKvHeads,
        0,
        headDim(c),
      ]);
  return feeds;
}

function trainingFeeds(
  c: LlamaConfig,
  params: Params,
  batch: { ids: number[]; targets: number[]; mask: number[]; B: number; T: number },
  lr: number,
  step: number,
): Record<string, ort.Tensor> {
  const { B, T } = batch;
  const feeds: Record<string, ort.Tensor> = {
    [TRAIN_IO.inputIds]: ortTensor('int64', batch.ids, [B, T]),
    [TRAIN_IO.targets]: ortTensor('int64', batch.targets, [B, T]),
    [TRAIN_IO.lossMask]: ortTensor('float32', batch.mask, [B, T]),
    [TRAIN_IO.lr]: ortTensor('float32', [lr], []),
    [TRAIN_IO.step]: ortTensor('float32', [step], []),
  };
  for (const s of paramSpecs(c)) {
    const data = params.get(s.name)!;
    feeds[s.name] = ortTensor('float32', data, s.shape);
    feeds[TRAIN_IO.expAvg(s.name)] = ortTensor('float32', new Float32Array(data.length), s.shape);
    feeds[TRAIN_IO.expAvgSq(s.name)] = ortTensor('float32', new Float32Array(data.length), s.shape);
  }
  return feeds;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('Llama-family model', () => {
  test('config: defaults give the ~1M-parameter embedded model; inconsistent heads are rejected', () => {
    const c = LlamaConfig.parse({});
    expect(paramSpecs(c).reduce((a, s) => a + s.shape[0] * (s.shape[1] ?? 1), 0)).toBeGreaterThan(900_000);
    const bad = LlamaConfig.safeParse({ nHeads: 4, nKvHeads: 3 });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0].path).toEqual(['nKvHeads']);
    expect(LlamaConfig.safeParse({ dModel: 12, nHeads: 4 }).success).toBe(false); // head size 3 is odd
  });

  test('whole-model gradients (tied embeddings, GQA, masked loss) agree with finite differences in float64', async () => {
    const c = tiny({ vocabSize: 7, dModel: 8, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 12 });
    const [B, T] = [2, 4];
    const specs = paramSpecs(c);
    const inputs: CheckInput[] = [
      ...specs.map((s): CheckInput => ({
        shape: s.shape,
        range: s.init === 'ones' ? [0.5, 1.5] : [-0.5, 0.5],
      })),
      { shape: [B, T], dtype: 'int64', data: randomIds(1, B * T, c.vocabSize) },
      { shape: [B, T], dtype: 'int64', data: randomIds(2, B * T, c.vocabSize) },
    ];
    const r = await gradCheck(deriveSeed('model', 'grad'), inputs, (g, xs) => {
      const w = Object.fromEntries(specs.map((s, i) => [s.name, xs[i]]));
      const [ids, targets] = xs.slice(specs.length);
      const positionIds = g.constant('int64', [1, T], [0, 1, 2, 3]);
      const allowed = g.constant('bool', [T, T], [1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1]);
      const { logits } = llamaForward(c, w, { inputIds: ids, positionIds, allowed });
      const mask = g.constant('float64', [B, T], [0, 1, 1, 1, 0, 0, 1, 1]);
      return maskedCrossEntropy(logits, targets, mask);
    });
    expect(r.relErr).toHaveLength(specs.length);
    expectClose(r);
  });

  test('inference-graph logits equal training-graph logits for the same weights', async () => {
    const c = tiny({ tieEmbeddings: false });
    const params = initParams(c, deriveSeed('model', 'weights'), 0.2);
    const [B, T] = [2, 6];
    const ids = randomIds(3, B * T, c.vocabSize);
    const inf = await createSession(buildInferenceGraph(c, params));
    const positions = Array.from({ length: B * T }, (_, k) => k % T);
    const a = await inf.run({
      input_ids: ortTensor('int64', ids, [B, T]),
      attention_mask: ortTensor('int64', new Array<number>(B * T).fill(1), [B, T]),
      position_ids: ortTensor('int64', positions, [B, T]),
      ...emptyPast(c, B),
    });
    const train = await createSession(buildTrainingGraph(c, { batchSize: B, seqLen: T, outputLogits: true }));
    const batch = {
      ids,
      targets: randomIds(4, B * T, c.vocabSize),
      mask: new Array<number>(B * T).fill(1),
      B,
      T,
    };
    const b = await train.run(trainingFeeds(c, params, batch, 0, 1));
    expect(a.logits.dims).toEqual([B, T, c.vocabSize]);
    expect(maxAbsDiff(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBeLessThan(1e-5);
    // The loss is the mean cross-entropy of those logits, recomputed here.
    const lg = a.logits.data as Float32Array;
    let nll = 0;
    for (let k = 0; k < B * T; k++) {
      const row = Array.from(lg.subarray(k * c.vocabSize, (k + 1) * c.vocabSize));
      const mx = Math.max(...row);
      nll += mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0)) - row[batch.targets[k]];
    }
    expect(Number(b.loss.data[0])).toBeCloseTo(nll / (B * T), 5);
  });

  test('cached step-by-step decoding equals the full-sequence forward, with left padding', async () => {
    const c = tiny();
    const params = initParams(c, deriveSeed('model', 'decode'), 0.2);
    const s = await createSession(buildInferenceGraph(c, params));
    const [B, T, P] = [2, 7, 3];
    const ids = randomIds(5, B * T, c.vocabSize);
    // Row 1 is left-padded by two tokens; its positions start at its first real token.
    const mask = [1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1];
    const pos = [0, 1, 2, 3, 4, 5, 6, 0, 0, 0, 1, 2, 3, 4];
    const cols = (xs: number[], from: number, to: number) =>
      [0, 1].flatMap((b) => xs.slice(b * T + from, b * T + to));
    const full = await s.run({
      input_ids: ortTensor('int64', ids, [B, T]),
      attention_mask: ortTensor('int64', mask, [B, T]),
      position_ids: ortTensor('int64', pos, [B, T]),
      ...emptyPast(c, B),
    });
    const fullLogits = full.logits.data as Float32Array;
    const V = c.vocabSize;
    let past = emptyPast(c, B);
    let worst = 0;
    // Prefill P tokens, then decode one token at a time against the growing cache.
    for (let t = 0; t < T; t = t === 0 ? P : t + 1) {
      const end = t === 0 ? P : t + 1;
      const out = await s.run({
        input_ids: ortTensor('int64', cols(ids, t, end), [B, end - t]),
        attention_mask: ortTensor('int64', cols(mask, 0, end), [B, end]),
        position_ids: ortTensor('int64', cols(pos, t, end), [B, end - t]),
        ...past,
      });
      const stepLogits = out.logits.data as Float32Array;
      for (let b = 0; b < B; b++)
        for (let u = t; u < end; u++) {
          if (mask[b * T + u] === 0) continue; // a padding query's output is never used
          const a = fullLogits.subarray((b * T + u) * V, (b * T + u + 1) * V);
          const k = (b * (end - t) + (u - t)) * V;
          worst = Math.max(worst, maxAbsDiff(a, stepLogits.subarray(k, k + V)));
        }
      past = {};
      for (let i = 0; i < c.nLayers; i++)
        for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
      expect(out['present.0.key'].dims).toEqual([B, c.nKvHeads, end, headDim(c)]);
    }
    expect(worst).toBeLessThan(1e-4);
  });

  test('one session.run is one AdamW step: first step moves each weight by lr·(sign(g) + wd·w); loss falls', async () => {
    const c = tiny();
    const params = initParams(c, deriveSeed('model', 'adamw'), 0.2);
    const [B, T] = [2, 8];
    const ids = randomIds(6, B * T, c.vocabSize);
    const batch = {
      ids,
      targets: ids.map((_, k) => ids[(k + 1) % (B * T)]),
      mask: ids.map((_, k) => (k % T < 3 ? 0 : 1)),
      B,
      T,
    };
    const wd = 0.1;
    const lr = 1e-3;
    const s = await createSession(
      buildTrainingGraph(c, { batchSize: B, seqLen: T, adamw: { weightDecay: wd, maxGradNorm: 0.5 } }),
    );
    const out = await s.run(trainingFeeds(c, params, batch, lr, 1));
    expect(Number(out[TRAIN_IO.gradNorm].data[0])).toBeGreaterThan(0);
    let checked = 0;
    let clippedSq = 0;
    for (const spec of paramSpecs(c)) {
      const p = params.get(spec.name)!;
      const p1 = out[TRAIN_IO.updated(spec.name)].data as Float32Array;
      const m = out[TRAIN_IO.updated(TRAIN_IO.expAvg(spec.name))].data as Float32Array;
      for (let k = 0; k < p.length; k++) {
        const gk = m[k] / 0.1; // exp_avg = (1 - beta1)·g after the first step
        clippedSq += gk * gk;
        if (Math.abs(gk) < 1e-4) continue;
        const decay = spec.decay ? wd * p[k] : 0;
        expect((p[k] - p1[k]) / lr - decay).toBeCloseTo(Math.sign(gk), 2);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
    // Clipping: the applied gradient's norm is min(norm, maxGradNorm).
    expect(Math.sqrt(clippedSq)).toBeCloseTo(Math.min(Number(out[TRAIN_IO.gradNorm].data[0]), 0.5), 4);

    // Feeding each step's outputs back in, the loss on this batch falls.
    const feeds = trainingFeeds(c, params, batch, 1e-2, 1);
    const first = Number((await s.run(feeds))[TRAIN_IO.loss].data[0]);
    let last = first;
    for (let step = 1; step <= 30; step++) {
      feeds[TRAIN_IO.step] = ortTensor('float32', [step], []);
      const r = await s.run(feeds);
      last = Number(r[TRAIN_IO.loss].data[0]);
      for (const spec of paramSpecs(c))
        for (const name of [spec.name, TRAIN_IO.expAvg(spec.name), TRAIN_IO.expAvgSq(spec.name)])
          feeds[name] = r[TRAIN_IO.updated(name)];
    }
    expect(last).toBeLessThan(first * 0.5);
  });
});
