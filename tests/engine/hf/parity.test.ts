import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../../../engine/checkpoint';
import { decodeStep, prefill } from '../../../engine/generate/decoder';
import { loadGenerationModel, releaseSessions } from '../../../engine/generate';
import { TRAIN_IO, buildTrainingGraph, paramSpecs } from '../../../engine/model';
import { toBytes } from '../../../engine/onnx/serialize';
import { argmax, hfExpected, hfFixtureNames, hfModelDir, maxAbsDiff } from './fixtures';

/**
 * lmsi against Hugging Face transformers on the same weights: each fixture is a tiny random
 * checkpoint of one family written by transformers (tests/fixtures/hf-models/make_fixtures.py), with
 * transformers' logits over a few prompts and its greedy continuations through its KV cache. lmsi
 * loads the folder as a user's (safetensors only: the sampler builds the engine's inference graph)
 * and must match through the full forward, the KV-cache decode path and the training graph.
 */

const TOLERANCE = 1e-4;
const names = hfFixtureNames();
const graphCache = mkdtempSync(path.join(os.tmpdir(), 'lmsi-hf-graphs-'));

afterAll(() => releaseSessions());

test('the fixtures cover every family and variant the issue names', () => {
  expect(names).toEqual(
    expect.arrayContaining([
      'llama',
      'llama3-rope',
      'llama-linear',
      'llama-dynamic',
      'llama-yarn',
      'llama-bias',
      'qwen2',
      'qwen3',
      'mistral',
      'smollm2',
    ]),
  );
});

describe.each(names)('%s matches transformers', (name) => {
  const expected = hfExpected(name);
  const dir = hfModelDir(name);

  test('full forward: every position of every prompt', async () => {
    const model = await loadGenerationModel(dir, { graphCacheDir: graphCache });
    for (const c of expected.cases) {
      const n = c.input_ids.length;
      const int64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, v.length]);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: int64(c.input_ids),
        attention_mask: int64(new Array<number>(n).fill(1)),
        position_ids: int64(c.input_ids.map((_, i) => i)),
      };
      for (const p of model.signature.pastNames)
        feeds[p] = new ort.Tensor('float32', new Float32Array(0), [
          1,
          model.signature.kvHeads,
          0,
          model.signature.headDim,
        ]);
      const logits = (await model.session.run(feeds)).logits.data as Float32Array;
      expect(maxAbsDiff(logits, c.logits.flat())).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  test('KV-cache decode: greedy tokens and each step logits', async () => {
    const model = await loadGenerationModel(dir, { graphCacheDir: graphCache });
    const V = model.logitsSize;
    for (const c of expected.cases) {
      let run = await prefill(model, c.input_ids);
      const tokens: number[] = [];
      const row = new Float32Array(V);
      for (let step = 0; step < c.greedy.length; step++) {
        run.logits.read(0, row);
        expect(maxAbsDiff(row, c.decode_logits[step])).toBeLessThanOrEqual(TOLERANCE);
        const next = argmax(row);
        tokens.push(next);
        const length = c.input_ids.length + step;
        run = await decodeStep(model, run.present, length, [next], [length]);
      }
      expect(tokens).toEqual(c.greedy);
    }
  });

  test('training graph: the same logits from the weights it trains', async () => {
    const ckpt = loadCheckpoint(dir);
    for (const c of expected.cases) {
      const T = c.input_ids.length;
      const graph = buildTrainingGraph(ckpt.config, {
        batchSize: 1,
        seqLen: T,
        mode: 'loss',
        outputLogits: true,
      });
      const session = await ort.InferenceSession.create(toBytes(graph));
      const feeds: Record<string, ort.Tensor> = {
        [TRAIN_IO.inputIds]: new ort.Tensor('int64', BigInt64Array.from(c.input_ids, BigInt), [1, T]),
        [TRAIN_IO.targets]: new ort.Tensor('int64', new BigInt64Array(T), [1, T]),
        [TRAIN_IO.lossMask]: new ort.Tensor('float32', new Float32Array(T), [1, T]),
      };
      for (const s of paramSpecs(ckpt.config))
        feeds[s.name] = new ort.Tensor('float32', ckpt.params.get(s.name)!, s.shape);
      const out = await session.run(feeds);
      expect(maxAbsDiff(out[TRAIN_IO.logits].data as Float32Array, c.logits.flat())).toBeLessThanOrEqual(
        TOLERANCE,
      );
      await session.release();
    }
  });
});
