import * as ort from 'onnxruntime-node';
import {
  LlamaConfig,
  TRAIN_IO,
  buildTrainingGraph,
  initLora,
  initParams,
  paramSpecs,
  type LoraConfig,
  type Params,
} from '../../../engine/model';
import { trainableSpecs } from '../../../engine/model/training-graph';
import { toBytes } from '../../../engine/onnx';
import { TrainingRunner } from '../../../engine/train';
import { ADAMW_PIECE, type RunnerOptions } from '../../../engine/train/runner';
import type { MicroBatch } from '../../../engine/train/batches';
import { Rng } from '../../../base/rng';

/**
 * The trainer updates the weights and moments in place (gradients written into its own buffers,
 * AdamW run piece by piece over them): every step must be bit for bit the step of the single graph
 * that computes the update itself (buildTrainingGraph's `step`, and `accumulate` + `apply`).
 */

let config: LlamaConfig = LlamaConfig.parse({
  vocabSize: 40,
  dModel: 16,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  dFF: 24,
  maxSeqLen: 16,
});
const [B, T] = [2, 8];
const adamw = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 0.5 };

function microBatch(seed: number): MicroBatch {
  const rng = new Rng(seed);
  const ids = Array.from({ length: B * T + 1 }, () => rng.int(0, config.vocabSize - 1));
  const mask = Float32Array.from({ length: B * T }, (_, k) => (k % T < 3 ? 0 : 1));
  return {
    inputIds: BigInt64Array.from(ids.slice(0, -1), BigInt),
    targets: BigInt64Array.from(ids.slice(1), BigInt),
    lossMask: mask,
    positionIds: BigInt64Array.from({ length: B * T }, (_, k) => BigInt(k % T)),
    segmentIds: BigInt64Array.from({ length: B * T }, () => 1n),
    lossTokens: mask.reduce((a, b) => a + b, 0),
    tokens: B * T,
  };
}

const copy = (p: Params): Params => new Map([...p].map(([k, v]) => [k, Float32Array.from(v)]));
const zeros = (p: Params): Params => new Map([...p].map(([k, v]) => [k, new Float32Array(v.length)]));
const tensor = (a: Float32Array | BigInt64Array, dims: number[]) =>
  a instanceof Float32Array ? new ort.Tensor('float32', a, dims) : new ort.Tensor('int64', a, dims);

/**
 * LoRA adapters whose B is `wave(i) * 0.1` instead of PEFT's zeros, so every gradient path is
 * exercised from the first step.
 */
function liveAdapters(lora: LoraConfig, seed: number, wave: (i: number) => number): Params {
  const adapters = initLora(config, lora, seed);
  for (const [name, w] of adapters)
    if (name.endsWith('lora_B.weight')) w.forEach((_, i) => (w[i] = wave(i) * 0.1));
  return adapters;
}

/** A LoRA runner on fresh copies of `adapters` (zero moments) and the shared `frozen` base. */
function loraRunner(
  lora: LoraConfig,
  adapters: Params,
  frozen: Params,
  opts: Pick<RunnerOptions, 'accumulation' | 'evaluation'> & Partial<RunnerOptions>,
): Promise<TrainingRunner> {
  return TrainingRunner.create(
    { config, batchSize: B, seqLen: T, adamw, lora, ...opts },
    copy(adapters),
    { expAvg: zeros(adapters), expAvgSq: zeros(adapters) },
    frozen,
  );
}

/** The reference: the graphs that update inside themselves, outputs fed back as the next inputs. */
async function referenceSteps(
  trained: Params,
  micro: MicroBatch[][],
  lora?: { config: LoraConfig; frozen: Params },
): Promise<{ params: Params; expAvg: Params; expAvgSq: Params; losses: number[] }> {
  const accumulate = micro[0].length > 1;
  const specs = trainableSpecs(config, lora?.config);
  const build = (mode: 'step' | 'accumulate' | 'apply') =>
    ort.InferenceSession.create(
      toBytes(
        buildTrainingGraph(config, {
          batchSize: B,
          seqLen: T,
          adamw,
          mode,
          packed: true,
          ...(lora ? { lora: lora.config } : {}),
        }),
      ),
    );
  const [step, acc] = accumulate
    ? [await build('apply'), await build('accumulate')]
    : [await build('step'), null];
  const state = { params: copy(trained), expAvg: zeros(trained), expAvgSq: zeros(trained) };
  const losses: number[] = [];
  const data = (mb: MicroBatch) => ({
    [TRAIN_IO.inputIds]: tensor(mb.inputIds, [B, T]),
    [TRAIN_IO.targets]: tensor(mb.targets, [B, T]),
    [TRAIN_IO.lossMask]: tensor(mb.lossMask, [B, T]),
    [TRAIN_IO.positionIds]: tensor(mb.positionIds, [B, T]),
    [TRAIN_IO.segmentIds]: tensor(mb.segmentIds, [B, T]),
  });
  for (const [k, batches] of micro.entries()) {
    const weights: Record<string, ort.Tensor> = {};
    for (const s of specs) weights[s.name] = tensor(state.params.get(s.name)!, s.shape);
    for (const s of lora ? paramSpecs(config) : [])
      weights[s.name] = tensor(lora!.frozen.get(s.name)!, s.shape);
    const total = batches.reduce((a, mb) => a + mb.lossTokens, 0);
    let gradAcc: Record<string, ort.Tensor> = {};
    for (const s of specs)
      gradAcc[TRAIN_IO.gradAcc(s.name)] = tensor(new Float32Array(state.params.get(s.name)!.length), s.shape);
    let loss = 0;
    for (const mb of batches.slice(0, -1)) {
      const r = await acc!.run({
        ...data(mb),
        ...weights,
        ...gradAcc,
        [TRAIN_IO.gradScale]: tensor(Float32Array.of(mb.lossTokens / total), []),
      });
      loss += (mb.lossTokens / total) * Number(r[TRAIN_IO.loss].data[0]);
      gradAcc = Object.fromEntries(
        specs.map((s) => [TRAIN_IO.gradAcc(s.name), r[TRAIN_IO.updated(TRAIN_IO.gradAcc(s.name))]]),
      );
    }
    const last = batches[batches.length - 1];
    const feeds: Record<string, ort.Tensor> = {
      ...data(last),
      ...weights,
      [TRAIN_IO.lr]: tensor(Float32Array.of(1e-2), []),
      [TRAIN_IO.step]: tensor(Float32Array.of(k + 1), []),
      ...(accumulate
        ? { ...gradAcc, [TRAIN_IO.gradScale]: tensor(Float32Array.of(last.lossTokens / total), []) }
        : {}),
    };
    for (const s of specs) {
      feeds[TRAIN_IO.expAvg(s.name)] = tensor(state.expAvg.get(s.name)!, s.shape);
      feeds[TRAIN_IO.expAvgSq(s.name)] = tensor(state.expAvgSq.get(s.name)!, s.shape);
    }
    const out = await step.run(feeds);
    losses.push(loss + (accumulate ? last.lossTokens / total : 1) * Number(out[TRAIN_IO.loss].data[0]));
    for (const s of specs) {
      state.params.set(s.name, out[TRAIN_IO.updated(s.name)].data as Float32Array);
      state.expAvg.set(s.name, out[TRAIN_IO.updated(TRAIN_IO.expAvg(s.name))].data as Float32Array);
      state.expAvgSq.set(s.name, out[TRAIN_IO.updated(TRAIN_IO.expAvgSq(s.name))].data as Float32Array);
    }
  }
  await step.release();
  await acc?.release();
  return { ...state, losses };
}

function expectSameBits(actual: Params, expected: Params): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [name, a] of actual) {
    const e = expected.get(name)!;
    const differing = a.findIndex((x, i) => !Object.is(x, e[i]));
    expect({ name, differing }).toEqual({ name, differing: -1 });
  }
}

async function runnerSteps(
  trained: Params,
  micro: MicroBatch[][],
  lora?: { config: LoraConfig; frozen: Params },
  recompute = false,
) {
  const params = copy(trained);
  const optimizer = { expAvg: zeros(trained), expAvgSq: zeros(trained) };
  const runner = await TrainingRunner.create(
    {
      config,
      batchSize: B,
      seqLen: T,
      adamw,
      accumulation: micro[0].length > 1,
      evaluation: false,
      recompute,
      ...(lora ? { lora: lora.config } : {}),
    },
    params,
    optimizer,
    lora?.frozen,
  );
  const losses: number[] = [];
  for (const [k, batches] of micro.entries()) losses.push((await runner.step(batches, 1e-2, k + 1)).loss);
  const snap = runner.snapshot();
  await runner.release();
  // In place: the arrays handed to the runner are the ones it updated.
  for (const [name, p] of params) expect(snap.params.get(name)).toBe(p);
  for (const [name, m] of optimizer.expAvg) expect(snap.optimizer.expAvg.get(name)).toBe(m);
  return { ...snap, losses };
}

test('a step in place equals the single-graph step bit for bit (three steps, weight decay, clipping)', async () => {
  const trained = initParams(config, 11, 0.2);
  const micro = [[microBatch(1)], [microBatch(2)], [microBatch(3)]];
  const want = await referenceSteps(trained, micro);
  const got = await runnerSteps(trained, micro);
  expect(got.losses).toEqual(want.losses);
  expectSameBits(got.params, want.params);
  expectSameBits(got.optimizer.expAvg, want.expAvg);
  expectSameBits(got.optimizer.expAvgSq, want.expAvgSq);
  // The steps did move the weights.
  expect(got.params.get('model.embed_tokens.weight')).not.toEqual(trained.get('model.embed_tokens.weight'));
});

test('with gradient accumulation, the in-place accumulator equals accumulate + apply bit for bit', async () => {
  const trained = initParams(config, 12, 0.2);
  const micro = [
    [microBatch(4), microBatch(5), microBatch(6)],
    [microBatch(7), microBatch(8), microBatch(9)],
  ];
  const want = await referenceSteps(trained, micro);
  const got = await runnerSteps(trained, micro);
  expect(got.losses).toEqual(want.losses);
  expectSameBits(got.params, want.params);
  expectSameBits(got.optimizer.expAvg, want.expAvg);
  expectSameBits(got.optimizer.expAvgSq, want.expAvgSq);
});

test('LoRA: the adapters update in place as the single graph updates them; the base is not written', async () => {
  const loraConfig: LoraConfig = { rank: 4, alpha: 8, dropout: 0, targetModules: ['q', 'v', 'down'] };
  const frozen = initParams(config, 13, 0.2);
  const before = copy(frozen);
  // B starts at zero (PEFT): give it values so every gradient path is exercised from the first step.
  const adapters = liveAdapters(loraConfig, 14, (i) => Math.sin(i + 1));
  const micro = [[microBatch(10)], [microBatch(11)]];
  const want = await referenceSteps(adapters, micro, { config: loraConfig, frozen });
  const got = await runnerSteps(adapters, micro, { config: loraConfig, frozen });
  expectSameBits(got.params, want.params);
  expectSameBits(got.optimizer.expAvgSq, want.expAvgSq);
  expectSameBits(frozen, before);
});

test('a parameter larger than one AdamW piece is updated piece by piece to the same bits', async () => {
  const small = config;
  // An embedding of 9 000 × 32 elements spans two pieces, the second one short.
  config = LlamaConfig.parse({ ...small, vocabSize: 9000, dModel: 32, nHeads: 4 });
  try {
    expect(9000 * 32).toBeGreaterThan(ADAMW_PIECE);
    const trained = initParams(config, 15, 0.2);
    const micro = [[microBatch(12)], [microBatch(13)]];
    const want = await referenceSteps(trained, micro);
    const got = await runnerSteps(trained, micro);
    expectSameBits(got.params, want.params);
    expectSameBits(got.optimizer.expAvg, want.expAvg);
    expectSameBits(got.optimizer.expAvgSq, want.expAvgSq);
  } finally {
    config = small;
  }
});

describe('activation recomputation per layer', () => {
  // The layers' forward passes are built again in the backward pass from each layer's input: the
  // same ops in the same order, so the same bits as the single graph that keeps every activation.
  test('the graph does rebuild the layers for the backward pass', () => {
    const nodes = (recompute: boolean) =>
      buildTrainingGraph(config, {
        batchSize: B,
        seqLen: T,
        adamw,
        packed: true,
        separateUpdate: true,
        recompute,
      }).nodes.length;
    const plain = nodes(false);
    expect(nodes(true)).toBeGreaterThan(plain + config.nLayers * 20);
  });

  test('full fine-tuning with accumulation: the same bits as without', async () => {
    const trained = initParams(config, 16, 0.2);
    const micro = [
      [microBatch(14), microBatch(15)],
      [microBatch(16), microBatch(17)],
    ];
    const want = await referenceSteps(trained, micro);
    const got = await runnerSteps(trained, micro, undefined, true);
    expect(got.losses).toEqual(want.losses);
    expectSameBits(got.params, want.params);
    expectSameBits(got.optimizer.expAvg, want.expAvg);
    expectSameBits(got.optimizer.expAvgSq, want.expAvgSq);
  });

  test('untied head, Qwen2 biases and q/k norms, and LoRA: the same bits as without', async () => {
    const small = config;
    config = LlamaConfig.parse({ ...small, tieEmbeddings: false, qkvBias: true, qkNorm: true });
    try {
      const full = initParams(config, 17, 0.2);
      const micro = [[microBatch(18)], [microBatch(19)]];
      const want = await referenceSteps(full, micro);
      const got = await runnerSteps(full, micro, undefined, true);
      expectSameBits(got.params, want.params);
      expectSameBits(got.optimizer.expAvgSq, want.expAvgSq);

      const loraConfig: LoraConfig = {
        rank: 4,
        alpha: 8,
        dropout: 0,
        targetModules: ['q', 'k', 'o', 'gate'],
      };
      const adapters = liveAdapters(loraConfig, 18, (i) => Math.cos(i + 1));
      const lora = { config: loraConfig, frozen: full };
      const wantLora = await referenceSteps(adapters, micro, lora);
      const gotLora = await runnerSteps(adapters, micro, lora, true);
      expectSameBits(gotLora.params, wantLora.params);
      expectSameBits(gotLora.optimizer.expAvg, wantLora.expAvg);
    } finally {
      config = small;
    }
  });
});

test('LoRA with the base held by the training session (as on a device; accumulation runs apply only): the same steps, evaluation and log-probs as fed', async () => {
  // On the CPU onnxruntime may pack constant weights for its matrix products: the same products,
  // so the same bits are expected; a difference would show here first.
  const loraConfig: LoraConfig = { rank: 4, alpha: 8, dropout: 0, targetModules: ['q', 'k', 'v', 'o', 'up'] };
  const frozen = initParams(config, 21, 0.2);
  const adapters = liveAdapters(loraConfig, 22, (i) => Math.sin(2 * i + 1));
  const micro = [
    [microBatch(30), microBatch(31)],
    [microBatch(32), microBatch(33)],
  ];
  const base = 'model.embed_tokens.weight';
  const run = async (frozenResident: boolean) => {
    const runner = await loraRunner(loraConfig, adapters, frozen, {
      accumulation: true,
      evaluation: true,
      logProbs: true,
      frozenResident,
    });
    // Held: apply runs every micro-batch without the base among its inputs; no accumulate session;
    // evaluation and log-probs are fed it. Fed: every session takes it.
    const inputs = runner.inputNames();
    expect(Object.keys(inputs).sort()).toEqual(
      frozenResident ? ['apply', 'logprobs', 'loss'] : ['accumulate', 'apply', 'logprobs', 'loss'],
    );
    expect(inputs.apply).toContain(TRAIN_IO.gradAcc('model.layers.0.self_attn.q_proj.lora_A.weight'));
    expect(inputs.apply!.includes(base)).toBe(!frozenResident);
    expect(inputs.loss).toContain(base);
    expect(inputs.logprobs).toContain(base);
    const losses: number[] = [];
    for (const [k, batches] of micro.entries()) losses.push((await runner.step(batches, 1e-2, k + 1)).loss);
    const evalLoss = await runner.evalLoss([microBatch(34)]);
    const logProbs = await runner.tokenLogProbs(microBatch(35));
    const reference = await runner.tokenLogProbs(microBatch(35), initParams(config, 23, 0.2));
    const snap = runner.snapshot();
    await runner.release();
    return { losses, evalLoss, logProbs, reference, params: snap.params, expAvgSq: snap.optimizer.expAvgSq };
  };
  const fed = await run(false);
  const held = await run(true);
  expect(held.losses).toEqual(fed.losses);
  expect(held.evalLoss).toEqual(fed.evalLoss);
  expect(held.logProbs).toEqual(fed.logProbs);
  expect(held.reference).toEqual(fed.reference);
  expect(held.reference).not.toEqual(held.logProbs);
  expectSameBits(held.params, fed.params);
  expectSameBits(held.expAvgSq, fed.expAvgSq);
  expect(held.params.get('model.layers.0.self_attn.q_proj.lora_A.weight')).not.toEqual(
    adapters.get('model.layers.0.self_attn.q_proj.lora_A.weight'),
  );
});

test('LoRA with dropout, one micro-batch a step: the base held by the step session gives the fed bits', async () => {
  const loraConfig: LoraConfig = {
    rank: 4,
    alpha: 8,
    dropout: 0.1,
    targetModules: ['q', 'v', 'gate', 'down'],
  };
  const frozen = initParams(config, 24, 0.2);
  const adapters = liveAdapters(loraConfig, 25, (i) => Math.cos(3 * i + 1));
  const run = async (frozenResident: boolean) => {
    const runner = await loraRunner(loraConfig, adapters, frozen, {
      accumulation: false,
      evaluation: false,
      frozenResident,
      dropoutSeed: 7,
    });
    expect(runner.inputNames().step!.includes('model.layers.0.mlp.down_proj.weight')).toBe(!frozenResident);
    const losses: number[] = [];
    for (const k of [1, 2, 3]) losses.push((await runner.step([microBatch(40 + k)], 1e-2, k)).loss);
    const snap = runner.snapshot();
    await runner.release();
    return { losses, params: snap.params };
  };
  const [fed, held] = [await run(false), await run(true)];
  expect(held.losses).toEqual(fed.losses);
  expectSameBits(held.params, fed.params);
  expect(held.losses[0]).not.toBe(held.losses[2]);
});
