/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { saveCheckpoint } from '../../engine/checkpoint';
import { loadGenerationModel, generatePaths } from '../../engine/generate';
import { LlamaConfig, initParams } from '../../engine/model';
import { buildCharTokenizerFiles } from '../../engine/tokenizer';

// A checkpoint written by engine/checkpoint is a Hugging Face / Optimum folder: transformers.js loads
// it from local files alone and decodes greedily exactly as our sampler does.
const PROMPTS = ['Q: Sam has 3 apples and buys 4 more. How many apples?\nA:', 'Hello', 'x = 7; y ='];
const MAX_NEW_TOKENS = 40;

function writeCheckpoint(): string {
  const tokenizer = buildCharTokenizerFiles();
  const vocab = (tokenizer.tokenizerJson as { model: { vocab: Record<string, number> } }).model.vocab;
  // The model's vocabulary is the tokenizer's (no padded ids, which our sampler would never choose
  // but transformers.js could), and weights large enough that greedy paths vary.
  const config = LlamaConfig.parse({
    vocabSize: Object.keys(vocab).length,
    dModel: 64,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    dFF: 128,
    maxSeqLen: 128,
  });
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'lmsi-interop-')), 'engine-model');
  saveCheckpoint(dir, { config, params: initParams(config, 8, 0.25), tokenizer });
  return dir;
}

describe('interoperability with @huggingface/transformers', () => {
  it('loads an engine checkpoint from local files and generates the same greedy tokens', async () => {
    const dir = writeCheckpoint();
    const ours = await generatePaths(await loadGenerationModel(dir, { threads: 2 }), {
      prompts: PROMPTS,
      n: 1,
      temperature: 0,
      maxNewTokens: MAX_NEW_TOKENS,
      seed: 0,
    });
    expect(new Set(ours.map((r) => r[0].tokenIds.join())).size).toBe(PROMPTS.length);
    // Both ways a greedy path ends: at eos (transformers.js must stop there too) and at the length.
    expect(ours.map((r) => r[0].finishReason).sort()).toEqual(['eos', 'eos', 'length']);

    const t = await import('@huggingface/transformers');
    t.env.allowRemoteModels = false;
    t.env.allowLocalModels = true;
    t.env.localModelPath = path.dirname(dir);
    // transformers.js requires onnxruntime-node itself; jest's moduleNameMapper must hand it the one
    // native runtime this worker already loaded (package.json overrides its version to ours).
    expect((t.env.backends.onnx as { versions?: unknown }).versions).toBe(ort.env.versions);
    const name = path.basename(dir);
    const tokenizer = await t.AutoTokenizer.from_pretrained(name, { local_files_only: true });
    const model = await t.AutoModelForCausalLM.from_pretrained(name, {
      local_files_only: true,
      dtype: 'fp32',
      device: 'cpu',
    });
    try {
      const ourModel = await loadGenerationModel(dir, { threads: 2 });
      for (let i = 0; i < PROMPTS.length; i++) {
        const inputs = tokenizer(PROMPTS[i]);
        const promptIds = (inputs.input_ids.tolist() as bigint[][])[0].map(Number);
        expect(promptIds).toEqual(ourModel.tokenizer.encode(PROMPTS[i], { bos: true }));
        const out = (await model.generate({
          ...inputs,
          max_new_tokens: MAX_NEW_TOKENS,
          do_sample: false,
        })) as { tolist(): bigint[][] };
        const generated = out.tolist()[0].map(Number).slice(promptIds.length);
        expect(generated).toEqual(ours[i][0].tokenIds);
        expect(generated.length).toBeGreaterThan(0);
      }
    } finally {
      await model.dispose();
    }
  });
});
