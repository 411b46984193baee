/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  type Completion,
  type GenerationModel,
  loadGenerationModel,
  generatePaths,
} from '../../../engine/generate';
import { LlamaConfig, buildInferenceGraph, initParams } from '../../../engine/model';
import { toBytes } from '../../../engine/onnx';
import { buildCharTokenizerFiles } from '../../../engine/tokenizer';

// The sampler does not know our model code; this suite only checks that a float32 graph built by
// engine/model (the Optimum convention, no contrib ops) samples like the fp16 fixture does.
function writeOwnModel(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-own-model-'));
  const config = LlamaConfig.parse({
    vocabSize: 96,
    dModel: 32,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    dFF: 64,
  });
  mkdirSync(path.join(dir, 'onnx'));
  writeFileSync(
    path.join(dir, 'onnx', 'model.onnx'),
    toBytes(buildInferenceGraph(config, initParams(config, 1, 0.3))),
  );
  const tok = buildCharTokenizerFiles();
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));
  return dir;
}

const PROMPTS = [
  'Q: 3 + 4 = ?\nA:',
  'Q: Tom has 12 pens and gives away 5. How many are left?\nA:',
  'Hi',
  'x = 7; y =',
];
const strip = (rs: Completion[][]) => rs.map((r) => r.map((c) => ({ ...c })));

let model: GenerationModel;
beforeAll(async () => {
  model = await loadGenerationModel(writeOwnModel(), { threads: 2 });
});

async function uncachedGreedy(prompt: string, maxNewTokens: number): Promise<number[]> {
  const sig = model.signature;
  const ids = model.tokenizer.encode(prompt, { bos: true });
  const out: number[] = [];
  for (let step = 0; step < maxNewTokens; step++) {
    const n = ids.length;
    const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, n]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64(ids),
      attention_mask: i64(ids.map(() => 1)),
      position_ids: i64(ids.map((_, i) => i)),
    };
    for (const name of sig.pastNames)
      feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, sig.kvHeads, 0, sig.headDim]);
    const logits = (await model.session.run(feeds)).logits.data as Float32Array;
    const last = logits.subarray((n - 1) * model.logitsSize, n * model.logitsSize);
    // Ids past the tokenizer's (the model pads its vocabulary) are never chosen.
    let best = 0;
    for (let i = 1; i < model.tokenizer.vocabSize; i++) if (last[i] > last[best]) best = i;
    out.push(best);
    ids.push(best);
    if (model.eosIds.includes(best)) break;
  }
  return out;
}

describe('generatePaths on a float32 graph from engine/model', () => {
  it('reads a float32 cache layout', () => {
    expect(model.signature).toMatchObject({
      layers: 2,
      cacheDType: 'float32',
      logitsDType: 'float32',
      kvHeads: 2,
      headDim: 8,
      logitsSize: 96,
    });
    expect(model.tokenizer.vocabSize).toBeLessThan(96);
  });

  it('cached decoding equals uncached decoding token for token (greedy)', async () => {
    const results = await generatePaths(model, {
      prompts: PROMPTS,
      n: 1,
      temperature: 0,
      maxNewTokens: 20,
      seed: 0,
    });
    for (let i = 0; i < PROMPTS.length; i++)
      expect(results[i][0].tokenIds).toEqual(await uncachedGreedy(PROMPTS[i], 20));
  });

  it('equal-length batching gives bit-identical samples whatever maxBatchRows or split', async () => {
    const options = {
      prompts: PROMPTS,
      n: 6,
      temperature: 1,
      topP: 0.95,
      maxNewTokens: 30,
      seed: 'own',
      stop: ['\n'],
    };
    const reference = await generatePaths(model, { ...options, maxBatchRows: 1 });
    expect(reference.flat().every((c) => c.tokenIds.every((t) => t < model.tokenizer.vocabSize))).toBe(true);
    expect(new Set(reference.flat().map((c) => c.tokenIds.length)).size).toBeGreaterThan(3);
    for (const maxBatchRows of [7, 64])
      expect(strip(await generatePaths(model, { ...options, maxBatchRows }))).toEqual(strip(reference));
    const first = await generatePaths(model, { ...options, prompts: PROMPTS.slice(0, 1), maxBatchRows: 5 });
    const rest = await generatePaths(model, { ...options, prompts: PROMPTS.slice(1), maxBatchRows: 9 });
    expect(strip([...first, ...rest])).toEqual(strip(reference));
  });

  it('one left-padded batch samples the same paths up to float32 rounding of the log-probabilities', async () => {
    const options = { prompts: PROMPTS, n: 6, temperature: 0, maxNewTokens: 30, seed: 0 };
    const separate = await generatePaths(model, options);
    const padded = await generatePaths(model, { ...options, mixLengths: true });
    for (let i = 0; i < PROMPTS.length; i++)
      for (let j = 0; j < options.n; j++) {
        expect(padded[i][j].tokenIds).toEqual(separate[i][j].tokenIds);
        expect(padded[i][j].sumLogprob).toBeCloseTo(separate[i][j].sumLogprob, 3);
      }
  });
});
