import type * as ort from 'onnxruntime-node';
import { Rng } from '../../../base/rng';
import {
  HEAD_CHUNK_BYTES,
  LlamaConfig,
  LoraConfig,
  TRAIN_IO,
  type TrainingGraphOptions,
  buildTrainingGraph,
  headChunkRows,
  loraSpecs,
  paramSpecs,
  type ParamSpec,
} from '../../../engine/model';
import { createSession, ortTensor } from '../../../engine/onnx';
import { numel } from '../../../engine/onnx/shape';
import { float64Params, randomAdapters } from '../../../testing/tiny-lora';

/**
 * The LM head and loss computed a chunk of tokens at a time (chunked-head.ts) against the same graph
 * unchunked, in float64: the same loss, log-probabilities and gradients (to rounding: only the order
 * of a few sums differs), for the cross-entropy and GRPO, full and LoRA training, tied and untied
 * heads, with and without recomputation, accumulating and updating; and nothing of the size of the
 * batch's logits left in the graph.
 */

const base = { dModel: 8, nLayers: 2, nHeads: 2, nKvHeads: 1, dFF: 12, maxSeqLen: 16, vocabSize: 23 };
const TIED = LlamaConfig.parse(base);
const UNTIED = LlamaConfig.parse({ ...base, tieEmbeddings: false });
const [B, T] = [2, 6];
const ROWS = 5; // 12 tokens: chunks of 5, 5 and 2
const LORA = LoraConfig.parse({ rank: 2, alpha: 4, targetModules: ['q', 'v', 'down'] });
const F64 = { graphOptimizationLevel: 'basic' } as const;

const SEGMENTS = [1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 0, 0];
const POSITIONS = [0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 0, 0];
const MASK = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0];
const rng = new Rng(41);
const IDS = Array.from({ length: B * T }, () => rng.int(0, base.vocabSize - 1));
const TARGETS = Array.from({ length: B * T }, () => rng.int(0, base.vocabSize - 1));
const ADVANTAGES = [0, 1.3, 1.3, 0, -0.7, -0.7, 0, 0, 0.4, 0.4, 0, 0];
const OLD = Array.from({ length: B * T }, (_, i) => -3.2 + 0.15 * (i % 7));
const REF = OLD.map((v, i) => v - 0.3 + 0.1 * (i % 5));

function tensors(c: LlamaConfig, lora: boolean): { specs: ParamSpec[]; values: Map<string, Float64Array> } {
  const values = float64Params(c);
  if (!lora) return { specs: paramSpecs(c), values };
  for (const [name, v] of randomAdapters(c, LORA, 11, 'float64')) values.set(name, v);
  return { specs: loraSpecs(c, LORA), values };
}

type Options = Omit<TrainingGraphOptions, 'batchSize' | 'seqLen'>;

async function run(c: LlamaConfig, opts: Options): Promise<Record<string, ort.Tensor>> {
  const graph = buildTrainingGraph(c, { batchSize: B, seqLen: T, dtype: 'float64', packed: true, ...opts });
  const { specs, values } = tensors(c, !!opts.lora);
  const bt = (d: number[]) => ortTensor('float64', d, [B, T]);
  const all: Record<string, ort.Tensor> = {
    [TRAIN_IO.inputIds]: ortTensor('int64', IDS, [B, T]),
    [TRAIN_IO.targets]: ortTensor('int64', TARGETS, [B, T]),
    [TRAIN_IO.positionIds]: ortTensor('int64', POSITIONS, [B, T]),
    [TRAIN_IO.segmentIds]: ortTensor('int64', SEGMENTS, [B, T]),
    [TRAIN_IO.lossMask]: bt(MASK),
    [TRAIN_IO.advantages]: bt(ADVANTAGES),
    [TRAIN_IO.oldLogProbs]: bt(OLD),
    [TRAIN_IO.refLogProbs]: bt(REF),
    [TRAIN_IO.lr]: ortTensor('float64', [0.01], []),
    [TRAIN_IO.step]: ortTensor('float64', [2], []),
    [TRAIN_IO.gradScale]: ortTensor('float64', [0.5], []),
  };
  for (const s of [...paramSpecs(c), ...specs]) {
    const v = values.get(s.name)!;
    all[s.name] = ortTensor('float64', v, s.shape);
    all[TRAIN_IO.expAvg(s.name)] = ortTensor(
      'float64',
      v.map((x) => 0.01 * x),
      s.shape,
    );
    all[TRAIN_IO.expAvgSq(s.name)] = ortTensor(
      'float64',
      v.map((x) => 0.001 * x * x),
      s.shape,
    );
    all[TRAIN_IO.gradAcc(s.name)] = ortTensor(
      'float64',
      v.map((x) => 0.1 * x),
      s.shape,
    );
  }
  const names = new Set(graph.inputs.map((t) => t.name));
  const session = await createSession(graph, F64);
  return session.run(Object.fromEntries(Object.entries(all).filter(([k]) => names.has(k))));
}

async function expectSame(c: LlamaConfig, opts: Options): Promise<void> {
  const whole = await run(c, { ...opts, headChunkRows: 0 });
  const chunked = await run(c, { ...opts, headChunkRows: ROWS });
  expect(Object.keys(chunked).sort()).toEqual(Object.keys(whole).sort());
  for (const [name, t] of Object.entries(whole)) {
    const a = Array.from(t.data as Float64Array);
    const b = Array.from(chunked[name].data as Float64Array);
    const scale = Math.max(1e-3, ...a.map(Math.abs));
    const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    if (worst > 1e-12 * scale) throw new Error(`${name}: differs by ${worst} (scale ${scale})`);
  }
}

const GRPO = { clipEpsilon: 0.2, klBeta: 0.05, temperature: 0.7 };

describe.each([
  ['full, tied head', TIED, false],
  ['full, untied head', UNTIED, false],
  ['LoRA', TIED, true],
])('chunked LM head, %s', (_, c, lora) => {
  const l = lora ? { lora: LORA } : {};
  test.each([
    ['cross-entropy', {}],
    ['cross-entropy, recomputed layers', { recompute: true }],
    ['GRPO with a KL term', { loss: 'grpo' as const, grpo: GRPO }],
    ['GRPO, recomputed layers', { loss: 'grpo' as const, grpo: GRPO, recompute: true }],
  ])('%s: the same loss and gradients', async (__, over) => {
    await expectSame(c, { ...l, ...over, separateUpdate: true });
  });

  test('accumulate, apply and a whole AdamW step give the same outputs', async () => {
    await expectSame(c, { ...l, mode: 'accumulate' });
    await expectSame(c, { ...l, mode: 'apply', separateUpdate: true });
    await expectSame(c, { ...l, mode: 'step' });
  });

  test('loss (evaluation) and logprobs modes give the same outputs', async () => {
    await expectSame(c, { ...l, mode: 'loss' });
    await expectSame(c, { ...l, mode: 'logprobs', grpo: GRPO });
  });
});

// LoRA: full training also differentiates the embedding lookup, whose gradient is a one-hot
// [B·T, V] product (grad-rules.ts, Gather), a value of that size the head does not make.
test('no value of the chunked LoRA graph is the size of the batch’s logits', () => {
  const values = (rows: number) =>
    buildTrainingGraph(TIED, {
      batchSize: B,
      seqLen: T,
      packed: true,
      lora: LORA,
      headChunkRows: rows,
    }).nodes.flatMap((n) => n.outputs.map((t) => t.shape as number[]));
  const V = base.vocabSize;
  const biggest = (rows: number) => Math.max(...values(rows).map(numel));
  expect(biggest(0)).toBe(B * T * V); // the logits, their log-softmax, their gradients
  expect(biggest(ROWS)).toBeLessThan(B * T * V);
  // Per vocabulary entry, a chunk's rows or the weight's columns (its transposes), never B·T.
  const perEntry = values(ROWS)
    .filter((s) => s.includes(V))
    .map((s) => numel(s) / V);
  expect(Math.max(...perEntry)).toBe(Math.max(ROWS, base.dModel));
});

test('the default chunks a real vocabulary to the byte budget and leaves a small one whole', () => {
  const qwen = LlamaConfig.parse({ ...base, vocabSize: 151_936 });
  const rows = headChunkRows(qwen, 4 * 256, 'float32');
  expect(rows).toBeGreaterThan(0);
  expect(rows * 151_936 * 4).toBeLessThanOrEqual(HEAD_CHUNK_BYTES);
  expect(Math.ceil(1024 / rows)).toBe(Math.ceil((1024 * 151_936 * 4) / HEAD_CHUNK_BYTES)); // even chunks
  expect(headChunkRows(TIED, 4 * 256, 'float32')).toBe(0);
  expect(headChunkRows(TIED, B * T, 'float64', 100)).toBe(0); // asked for more rows than there are
});
