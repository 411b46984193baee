import type * as ort from 'onnxruntime-node';
import { Rng } from '../../../base/rng';
import {
  type GrpoConfigInput,
  LoraConfig,
  TRAIN_IO,
  type TrainingGraphOptions,
  buildTrainingGraph,
  loraSpecs,
  paramSpecs,
  type ParamSpec,
} from '../../../engine/model';
import { createSession, ortTensor } from '../../../engine/onnx';
import { float64Params, randomAdapters, tinyLlamaConfig } from '../../../testing/tiny-lora';

/**
 * The GRPO loss in the training graph itself (float64, packed rows, LoRA and full): its gradients
 * against finite differences of the same graph's loss, and the identities the objective must keep.
 */

const C = tinyLlamaConfig();
const [B, T] = [2, 6];
const LORA = LoraConfig.parse({ rank: 2, alpha: 4, targetModules: ['q', 'v', 'down'] });

/** Row 0 packs two examples (prompt lengths 2 and 1), row 1 holds one and two padding positions. */
const SEGMENTS = [1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 0, 0];
const POSITIONS = [0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 0, 0];
const MASK = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0];
const rng = new Rng(23);
const IDS = Array.from({ length: B * T }, () => rng.int(0, C.vocabSize - 1));
const TARGETS = Array.from({ length: B * T }, () => rng.int(0, C.vocabSize - 1));
/** Per path: row 0's paths get +1.3 and −0.7, row 1's path +0.4, on every completion token. */
const ADVANTAGES = [0, 1.3, 1.3, 0, -0.7, -0.7, 0, 0, 0.4, 0.4, 0, 0];

interface Weights {
  trained: Map<string, Float64Array>;
  frozen: Map<string, Float64Array>;
  specs: ParamSpec[];
}

function weights(lora: boolean): Weights {
  const full = float64Params(C);
  if (!lora) return { trained: full, frozen: new Map(), specs: paramSpecs(C) };
  return { trained: randomAdapters(C, LORA, 11, 'float64'), frozen: full, specs: loraSpecs(C, LORA) };
}

// onnxruntime's level-'all' fusions (QuickGelu from x·sigmoid(x)) have float32 kernels only.
const F64 = { graphOptimizationLevel: 'basic' } as const;

const ofShape = (data: ArrayLike<number>) => ortTensor('float64', Array.from(data), [B, T]);

function feeds(
  w: Weights,
  policy: { advantages: number[]; old: number[] } | null,
): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {
    [TRAIN_IO.inputIds]: ortTensor('int64', IDS, [B, T]),
    [TRAIN_IO.targets]: ortTensor('int64', TARGETS, [B, T]),
    [TRAIN_IO.positionIds]: ortTensor('int64', POSITIONS, [B, T]),
    [TRAIN_IO.segmentIds]: ortTensor('int64', SEGMENTS, [B, T]),
  };
  for (const [name, data] of [...w.frozen, ...w.trained]) {
    const spec = [...paramSpecs(C), ...w.specs].find((s) => s.name === name)!;
    out[name] = ortTensor('float64', data, spec.shape);
  }
  if (policy) {
    out[TRAIN_IO.lossMask] = ofShape(MASK);
    out[TRAIN_IO.advantages] = ofShape(policy.advantages);
    out[TRAIN_IO.oldLogProbs] = ofShape(policy.old);
    out[TRAIN_IO.refLogProbs] = ofShape(policy.old.map((v, i) => v - 0.3 + 0.1 * (i % 5)));
  }
  return out;
}

function graphOptions(lora: boolean, over: Partial<TrainingGraphOptions> = {}): TrainingGraphOptions {
  return {
    batchSize: B,
    seqLen: T,
    dtype: 'float64',
    packed: true,
    separateUpdate: true,
    ...(lora ? { lora: LORA } : {}),
    ...over,
  };
}

async function tokenLogProbs(w: Weights, lora: boolean, grpo: GrpoConfigInput): Promise<number[]> {
  const s = await createSession(buildTrainingGraph(C, graphOptions(lora, { mode: 'logprobs', grpo })), F64);
  const out = await s.run(feeds(w, null));
  return Array.from(out[TRAIN_IO.tokenLogProbs].data as Float64Array);
}

/** The GRPO step graph; feeds a ref input only when the graph has one (klBeta > 0). */
async function grpoSession(lora: boolean, grpo: GrpoConfigInput) {
  const graph = buildTrainingGraph(C, graphOptions(lora, { loss: 'grpo', grpo }));
  const session = await createSession(graph, F64);
  const names = new Set(graph.inputs.map((t) => t.name));
  return async (w: Weights, advantages: number[], old: number[]) => {
    const all = feeds(w, { advantages, old });
    const out = await session.run(Object.fromEntries(Object.entries(all).filter(([k]) => names.has(k))));
    const grads = new Map(
      w.specs.map((s) => [s.name, Array.from(out[TRAIN_IO.grad(s.name)].data as Float64Array)]),
    );
    return { loss: Number(out[TRAIN_IO.loss].data[0]), grads };
  };
}

const GRPO: GrpoConfigInput = { clipEpsilon: 0.2, klBeta: 0.05, temperature: 0.7 };

describe.each([
  ['full', false],
  ['LoRA', true],
])('GRPO loss, %s training', (_, lora) => {
  test('gradients w.r.t. a few weights agree with central finite differences of the graph loss (float64)', async () => {
    const w = weights(lora);
    const logp = await tokenLogProbs(w, lora, GRPO);
    // π_old a little away from π_θ: some tokens' ratios inside [1 − ε, 1 + ε], some clipped on
    // either side, none within reach of a clip edge by the finite-difference step.
    const r = new Rng(lora ? 4 : 3);
    const old = logp.map((v) => {
      for (;;) {
        const shift = 0.6 * (2 * r.next() - 1);
        if (Math.abs(Math.exp(-shift) - 1.2) > 0.02 && Math.abs(Math.exp(-shift) - 0.8) > 0.02)
          return v + shift;
      }
    });
    const ratios = logp.map((v, i) => Math.exp(v - old[i])).filter((_, i) => MASK[i] === 1);
    expect(ratios.some((q) => q > 1.2 || q < 0.8)).toBe(true);
    expect(ratios.some((q) => q < 1.2 && q > 0.8)).toBe(true);

    const run = await grpoSession(lora, GRPO);
    const at = await run(w, ADVANTAGES, old);
    const pick = new Rng(lora ? 8 : 7);
    let worst = 0;
    let scale = 0;
    for (const s of w.specs.filter((_, i) => i % Math.max(1, Math.floor(w.specs.length / 4)) === 0)) {
      const data = w.trained.get(s.name)!;
      for (let k = 0; k < 3; k++) {
        const j = pick.int(0, data.length - 1);
        const keep = data[j];
        const h = 1e-6;
        data[j] = keep + h;
        const up = (await run(w, ADVANTAGES, old)).loss;
        data[j] = keep - h;
        const down = (await run(w, ADVANTAGES, old)).loss;
        data[j] = keep;
        const numeric = (up - down) / (2 * h);
        worst = Math.max(worst, Math.abs(numeric - at.grads.get(s.name)![j]));
        scale = Math.max(scale, Math.abs(numeric));
      }
    }
    expect(scale).toBeGreaterThan(1e-3);
    expect(worst / scale).toBeLessThan(1e-6);
  });

  test('with A = 0 and β = 0 the loss and every gradient are 0', async () => {
    const w = weights(lora);
    const old = (await tokenLogProbs(w, lora, {})).map((v, i) => v + 0.1 * (i % 3));
    const r = await (await grpoSession(lora, { klBeta: 0 }))(w, new Array<number>(B * T).fill(0), old);
    expect(Math.abs(r.loss)).toBe(0); // −min(0, 0) is −0
    for (const g of r.grads.values()) expect(g.every((v) => v === 0)).toBe(true);
  });

  test('at the first step (old = the policy, r = 1) every token costs −A, the KL term 0', async () => {
    const w = weights(lora);
    const old = await tokenLogProbs(w, lora, GRPO);
    const run = await grpoSession(lora, { ...GRPO, klBeta: 0.5 });
    // ref = old here (the reference is the starting model): k3 is exactly 0 at r = 1.
    const graph = buildTrainingGraph(C, graphOptions(lora, { loss: 'grpo', grpo: { ...GRPO, klBeta: 0.5 } }));
    const session = await createSession(graph, F64);
    const f = feeds(w, { advantages: ADVANTAGES, old });
    f[TRAIN_IO.refLogProbs] = ofShape(old);
    const loss = Number((await session.run(f))[TRAIN_IO.loss].data[0]);
    const masked = ADVANTAGES.filter((_, i) => MASK[i] === 1);
    const expected = -masked.reduce((a, b) => a + b, 0) / masked.length;
    expect(loss).toBeCloseTo(expected, 12);
    expect((await run(w, ADVANTAGES, old)).loss).toBeGreaterThan(expected); // a reference ≠ π: KL > 0
  });

  test('at r = 1 with A = 1 on every token and temperature 1, the gradient is the cross-entropy’s', async () => {
    const w = weights(lora);
    const old = await tokenLogProbs(w, lora, {});
    const grpo = await (await grpoSession(lora, {}))(w, new Array<number>(B * T).fill(1), old);
    const sft = await createSession(buildTrainingGraph(C, graphOptions(lora)), F64);
    const f = feeds(w, null);
    f[TRAIN_IO.lossMask] = ofShape(MASK);
    const out = await sft.run(f);
    for (const s of w.specs) {
      const a = grpo.grads.get(s.name)!;
      const b = out[TRAIN_IO.grad(s.name)].data as Float64Array;
      const tol = 1e-9 * Math.max(1, ...Array.from(b, Math.abs));
      a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(tol));
    }
  });
});

test("loss 'sft' builds the same graph as before the option existed", () => {
  const plain = buildTrainingGraph(C, { batchSize: B, seqLen: T, packed: true });
  const sft = buildTrainingGraph(C, { batchSize: B, seqLen: T, packed: true, loss: 'sft' });
  expect(sft.nodes.map((n) => n.op)).toEqual(plain.nodes.map((n) => n.op));
  expect(sft.inputs.map((t) => t.name)).toEqual(plain.inputs.map((t) => t.name));
  expect(plain.inputs.map((t) => t.name)).not.toContain(TRAIN_IO.advantages);
});
