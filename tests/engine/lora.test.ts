import { Rng, deriveSeed } from '../../base/rng';
import {
  LlamaConfig,
  LoraConfig,
  TRAIN_IO,
  buildInferenceGraph,
  buildTrainingGraph,
  headDim,
  initParams,
  llamaForward,
  loraSpecs,
  maskedCrossEntropy,
  mergeLora,
  paramSpecs,
  type Params,
} from '../../engine/model';
import { loraHook } from '../../engine/model/lora';
import { createSession, ortTensor } from '../../engine/onnx';
import { randomAdapters, tinyLlamaConfig } from '../../testing/tiny-lora';
import { type CheckInput, expectClose, gradCheck } from './gradcheck';

/**
 * LoRA: gradients checked numerically like every rule, the adapted forward equals the merged
 * weights' forward (merge equals unmerged), and dropout masks that follow the seed. Also the whole
 * model's gradients with every family switch on (biases, q/k norm, explicit head_dim, rope scaling).
 */

const config = tinyLlamaConfig;

const ids = (seed: number, n: number, vocab: number) => {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(0, vocab - 1));
};

const [B, T] = [2, 4];
const causal = [1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1];
const mask = [0, 1, 1, 1, 0, 0, 1, 1];

test('whole-model gradients with every family switch (biases, q/k norm, head_dim, yarn) agree with finite differences', async () => {
  const c = config({
    qkvBias: true,
    outputBias: true,
    mlpBias: true,
    qkNorm: true,
    headDim: 6,
    ropeScaling: { type: 'yarn', factor: 4, originalMaxPositionEmbeddings: 8 },
    tieEmbeddings: false,
  });
  const specs = paramSpecs(c);
  const inputs: CheckInput[] = [
    ...specs.map((s): CheckInput => ({
      shape: s.shape,
      range: s.init === 'ones' ? [0.5, 1.5] : [-0.5, 0.5],
    })),
    { shape: [B, T], dtype: 'int64', data: ids(1, B * T, c.vocabSize) },
    { shape: [B, T], dtype: 'int64', data: ids(2, B * T, c.vocabSize) },
  ];
  const r = await gradCheck(deriveSeed('lora', 'switches'), inputs, (g, xs) => {
    const w = Object.fromEntries(specs.map((s, i) => [s.name, xs[i]]));
    const [inputIds, targets] = xs.slice(specs.length);
    const positionIds = g.constant('int64', [1, T], [0, 1, 2, 3]);
    const allowed = g.constant('bool', [T, T], causal);
    const { logits } = llamaForward(c, w, { inputIds, positionIds, allowed });
    return maskedCrossEntropy(logits, targets, g.constant('float64', [B, T], mask));
  });
  expect(r.relErr).toHaveLength(specs.length);
  expectClose(r);
});

test('LoRA gradients (A and B of every target, base frozen) agree with finite differences', async () => {
  const c = config({ qkvBias: true });
  const lora = LoraConfig.parse({ rank: 2, alpha: 4 });
  const base = initParams(c, 3, 0.3);
  const specs = loraSpecs(c, lora);
  const inputs: CheckInput[] = [
    ...specs.map((s): CheckInput => ({ shape: s.shape, range: [-0.5, 0.5] })),
    { shape: [B, T], dtype: 'int64', data: ids(3, B * T, c.vocabSize) },
    { shape: [B, T], dtype: 'int64', data: ids(4, B * T, c.vocabSize) },
  ];
  const r = await gradCheck(deriveSeed('lora', 'grad'), inputs, (g, xs) => {
    const w = {
      ...Object.fromEntries(
        paramSpecs(c).map((s) => [s.name, g.constant('float64', s.shape, Array.from(base.get(s.name)!))]),
      ),
      ...Object.fromEntries(specs.map((s, i) => [s.name, xs[i]])),
    };
    const [inputIds, targets] = xs.slice(specs.length);
    const { logits } = llamaForward(c, w, {
      inputIds,
      positionIds: g.constant('int64', [1, T], [0, 1, 2, 3]),
      allowed: g.constant('bool', [T, T], causal),
      lora: loraHook(lora, w, null),
    });
    return maskedCrossEntropy(logits, targets, g.constant('float64', [B, T], mask));
  });
  expect(r.relErr).toHaveLength(specs.length);
  expectClose(r);
});

function trainFeeds(
  c: LlamaConfig,
  base: Params,
  adapters: Params,
  lora: ReturnType<typeof LoraConfig.parse>,
  inputIds: number[],
) {
  const feeds: Record<string, ReturnType<typeof ortTensor>> = {
    [TRAIN_IO.inputIds]: ortTensor('int64', inputIds, [B, T]),
    [TRAIN_IO.targets]: ortTensor('int64', inputIds, [B, T]),
    [TRAIN_IO.lossMask]: ortTensor('float32', new Array<number>(B * T).fill(1), [B, T]),
  };
  for (const s of paramSpecs(c)) feeds[s.name] = ortTensor('float32', base.get(s.name)!, s.shape);
  for (const s of loraSpecs(c, lora)) feeds[s.name] = ortTensor('float32', adapters.get(s.name)!, s.shape);
  return feeds;
}

test('merge equals unmerged: the adapted training graph and the merged inference graph give the same logits', async () => {
  const c = config({ dModel: 16, nHeads: 4, nKvHeads: 2, dFF: 24, vocabSize: 11, qkvBias: true });
  const lora = LoraConfig.parse({ rank: 4, alpha: 8, targetModules: ['q', 'v', 'o', 'down'] });
  const base = initParams(c, 5, 0.2);
  const adapters = randomAdapters(c, lora, 9, 'float32');
  const inputIds = ids(7, B * T, c.vocabSize);
  const train = await createSession(
    buildTrainingGraph(c, { batchSize: B, seqLen: T, mode: 'loss', outputLogits: true, lora }),
  );
  const unmerged = (await train.run(trainFeeds(c, base, adapters, lora, inputIds)))[TRAIN_IO.logits]
    .data as Float32Array;

  const inf = await createSession(buildInferenceGraph(c, mergeLora(c, lora, base, adapters)));
  const past: Record<string, ReturnType<typeof ortTensor>> = {};
  for (let i = 0; i < c.nLayers; i++)
    for (const kv of ['key', 'value'])
      past[`past_key_values.${i}.${kv}`] = ortTensor('float32', new Float32Array(0), [
        B,
        c.nKvHeads,
        0,
        headDim(c),
      ]);
  const merged = (
    await inf.run({
      input_ids: ortTensor('int64', inputIds, [B, T]),
      attention_mask: ortTensor('int64', new Array<number>(B * T).fill(1), [B, T]),
      position_ids: ortTensor(
        'int64',
        Array.from({ length: B * T }, (_, k) => k % T),
        [B, T],
      ),
      ...past,
    })
  ).logits.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < merged.length; i++) worst = Math.max(worst, Math.abs(merged[i] - unmerged[i]));
  expect(worst).toBeLessThan(1e-5);
  // And the adapters matter: the base alone gives other logits.
  const plain = await createSession(buildInferenceGraph(c, base));
  const baseLogits = (
    await plain.run({
      input_ids: ortTensor('int64', inputIds, [B, T]),
      attention_mask: ortTensor('int64', new Array<number>(B * T).fill(1), [B, T]),
      position_ids: ortTensor(
        'int64',
        Array.from({ length: B * T }, (_, k) => k % T),
        [B, T],
      ),
      ...past,
    })
  ).logits.data as Float32Array;
  let moved = 0;
  for (let i = 0; i < merged.length; i++) moved = Math.max(moved, Math.abs(merged[i] - baseLogits[i]));
  expect(moved).toBeGreaterThan(1e-2);
});

test('LoRA dropout: the same seed draws the same masks, another seed others, and p = 0 draws none', async () => {
  const c = config({ dModel: 16, nHeads: 4, nKvHeads: 2, dFF: 24, vocabSize: 11 });
  const lora = LoraConfig.parse({ rank: 4, alpha: 8, dropout: 0.5 });
  const base = initParams(c, 5, 0.2);
  const adapters = randomAdapters(c, lora, 9, 'float32');
  const inputIds = ids(8, B * T, c.vocabSize);
  const g = buildTrainingGraph(c, { batchSize: B, seqLen: T, mode: 'step', lora });
  const session = await createSession(g);
  const run = async (seed: number) => {
    const feeds = trainFeeds(c, base, adapters, lora, inputIds);
    for (const s of loraSpecs(c, lora)) {
      feeds[TRAIN_IO.expAvg(s.name)] = ortTensor(
        'float32',
        new Float32Array(s.shape[0] * s.shape[1]!),
        s.shape,
      );
      feeds[TRAIN_IO.expAvgSq(s.name)] = ortTensor(
        'float32',
        new Float32Array(s.shape[0] * s.shape[1]!),
        s.shape,
      );
    }
    feeds[TRAIN_IO.lr] = ortTensor('float32', [0.01], []);
    feeds[TRAIN_IO.step] = ortTensor('float32', [1], []);
    feeds[TRAIN_IO.loraDropoutSeed] = ortTensor('int64', [seed], []);
    return Number((await session.run(feeds))[TRAIN_IO.loss].data[0]);
  };
  const [a, b, other] = [await run(1), await run(1), await run(2)];
  expect(a).toBe(b);
  expect(a).not.toBe(other);
  // Without dropout the graph takes no seed.
  const none = buildTrainingGraph(c, {
    batchSize: B,
    seqLen: T,
    mode: 'step',
    lora: { ...lora, dropout: 0 },
  });
  expect(none.inputs.map((t) => t.name)).not.toContain(TRAIN_IO.loraDropoutSeed);
});
