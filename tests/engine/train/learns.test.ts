import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { createBaseModel } from '../../../engine/checkpoint';
import { loadGenerationModel, releaseSessions, generatePaths } from '../../../engine/generate';
import { LlamaConfig, parameterCount } from '../../../engine/model';
import { type TrainOutput, fineTune } from '../../../engine/train';
import { Rng } from '../../../base/rng';

// 48 made-up facts: a three-letter key and a four-digit code. Nothing in a key predicts its code,
// so only a model that memorised each pair can predict the codes.
const rng = new Rng(2022);
const letters = [...'abcdefghijklmnopqrstuvwxyz'];
const keys = new Set<string>();
while (keys.size < 48) keys.add(Array.from({ length: 3 }, () => rng.pick(letters)).join(''));
const FACTS = [...keys].map((k) => ({
  prompt: `code of ${k}:`,
  completion: ` ${Array.from({ length: 4 }, () => rng.int(0, 9)).join('')}.`,
}));

/**
 * The lowest mean loss on the completion tokens (+ EOS) that any model ignoring the prompt can reach
 * on this data: the empirical entropy of each completion token given only the completion before it.
 */
function promptBlindLoss(): number {
  const counts = new Map<string, Map<string, number>>();
  const seqs = FACTS.map((f) => [...f.completion, '</s>']);
  for (const s of seqs)
    s.forEach((ch, i) => {
      const ctx = s.slice(0, i).join('');
      const m = counts.get(ctx) ?? new Map<string, number>();
      m.set(ch, (m.get(ch) ?? 0) + 1);
      counts.set(ctx, m);
    });
  let nll = 0;
  let n = 0;
  for (const s of seqs)
    s.forEach((ch, i) => {
      const m = counts.get(s.slice(0, i).join(''))!;
      const total = [...m.values()].reduce((a, b) => a + b, 0);
      nll -= Math.log(m.get(ch)! / total);
      n++;
    });
  return nll / n;
}

const config = LlamaConfig.parse({
  vocabSize: 96,
  dModel: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  dFF: 176,
  maxSeqLen: 64,
});

let trained: TrainOutput;
beforeAll(async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lmsi-learns-'));
  const from = createBaseModel({ config, seed: 7, dir: path.join(root, 'base') });
  trained = await fineTune({
    from,
    outDir: path.join(root, 'run'),
    examples: FACTS,
    evalExamples: FACTS,
    config: {
      steps: 400,
      learningRate: 3e-3,
      warmupSteps: 20,
      weightDecay: 0,
      batchSize: 8,
      seqLen: 40,
      checkpointEvery: 400,
      seed: 'learns',
    },
    threads: 2,
  });
}, 120_000);

afterAll(() => releaseSessions());

describe('proof it learns', () => {
  test('a ~100k-parameter model reaches a loss no prompt-blind or random model can', () => {
    expect(parameterCount(config)).toBeGreaterThan(90_000);
    expect(parameterCount(config)).toBeLessThan(110_000);
    const initial = trained.evalLosses[0].loss;
    const final = trained.evalLosses[trained.evalLosses.length - 1].loss;
    expect(initial).toBeGreaterThan(Math.log(96) - 0.5); // untrained: about uniform over the vocabulary
    // Even knowing the 48 codes, a model blind to the key pays for the first digits of each code.
    const blind = promptBlindLoss();
    expect(blind).toBeGreaterThan(0.4);
    expect(final).toBeLessThan(blind / 10);
    expect(final).toBeLessThan(0.03);
    expect(trained.lossCurve[trained.lossCurve.length - 1].loss).toBeLessThan(0.03);
  });

  test('greedy decoding through the exported inference graph reproduces every memorised completion', async () => {
    const model = await loadGenerationModel(trained.checkpointDir, { threads: 2 });
    const out = await generatePaths(model, {
      prompts: FACTS.map((f) => f.prompt),
      n: 1,
      temperature: 0,
      maxNewTokens: 12,
      seed: 0,
    });
    expect(out.map(([c]) => c.text)).toEqual(FACTS.map((f) => f.completion));
    expect(out.every(([c]) => c.finishReason === 'eos')).toBe(true);

    // The same answer from onnx/model.onnx in a bare onnxruntime session (no project code): greedy,
    // recomputing the whole sequence each token.
    const session = await ort.InferenceSession.create(path.join(trained.checkpointDir, 'onnx', 'model.onnx'));
    const ids = model.tokenizer.encode(FACTS[5].prompt, { bos: true });
    const generated: number[] = [];
    for (let step = 0; step < 12; step++) {
      const n = ids.length;
      const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, n]);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: i64(ids),
        attention_mask: i64(ids.map(() => 1)),
        position_ids: i64(ids.map((_, i) => i)),
      };
      for (let i = 0; i < config.nLayers; i++)
        for (const kv of ['key', 'value'])
          feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 16]);
      const logits = (await session.run(feeds)).logits.data as Float32Array;
      const last = logits.subarray((n - 1) * config.vocabSize, n * config.vocabSize);
      const next = last.indexOf(Math.max(...last));
      if (next === model.tokenizer.eosId) break;
      generated.push(next);
      ids.push(next);
    }
    await session.release();
    expect(model.tokenizer.decode(generated)).toBe(FACTS[5].completion);
  });
});
