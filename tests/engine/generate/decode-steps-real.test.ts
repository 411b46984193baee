/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { createBaseModel, loadCheckpoint } from '../../../engine/checkpoint';
import {
  type Completion,
  type GenerationModel,
  decodeStepsUnavailable,
  emptyTimings,
  loadGenerationModel,
  generatePaths,
} from '../../../engine/generate';
import { decodeStepsSession, stepsGraphOf } from '../../../engine/generate/decode-steps';
import { graphFromWeights } from '../../../engine/generate/graph-from-weights';
import { parseSampleOptions } from '../../../engine/generate/options';
import type { GeneratePathsRequest } from '../../../engine/generate/generate-paths';
import { buildInferenceGraph } from '../../../engine/model/inference-graph';
import { NO_TRUNCATIONS } from '../../../engine/model/draw-in-graph';
import { externalRefsOf, serialize } from '../../../engine/onnx/serialize';
import { hfModelDir } from '../hf/fixtures';
import { LLAMA_FP16 } from './fixture';

// The fast sampler (several decode steps per session.run, the draw in the graph) on real
// vocabularies and on Hugging Face checkpoints the engine builds from their safetensors: the same
// samples as the one-step loop for a fixed seed (README.md, "Contract": a token could differ only
// where its uniform lies within float64 rounding of a CDF boundary, which random uniforms do not).
const tmp = mkdtempSync(path.join(os.tmpdir(), 'lmsi-decode-steps-real-'));
const graphCacheDir = path.join(tmp, 'graphs');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tokens = (rs: Completion[][]) => rs.map((r) => r.map((c) => c.tokenIds));

async function sample(model: GenerationModel, request: GeneratePathsRequest, steps: number) {
  const timings = emptyTimings();
  const out = await generatePaths(model, { ...request, stepsPerRun: steps, timings });
  expect(timings.stepsFallbackReason).toBeNull();
  expect(timings.stepsPerRun).toBe(steps);
  return out;
}

/** The k-step samples against the one-step loop's: tokens, text and finish reason; sumLogprob to float32 rounding. */
async function expectSameAsOneStep(
  model: GenerationModel,
  request: GeneratePathsRequest,
  stepsList: number[],
) {
  const one = (await sample(model, request, 1)).flat();
  for (const steps of stepsList) {
    const many = (await sample(model, request, steps)).flat();
    expect(tokens([many])).toEqual(tokens([one]));
    many.forEach((c, i) => {
      expect(c.text).toBe(one[i].text);
      expect(c.finishReason).toBe(one[i].finishReason);
      expect(c.sumLogprob).toBeCloseTo(one[i].sumLogprob, 3);
    });
  }
  return one;
}

const PROMPTS = ['Q: 3 + 4 = ?\nA:', { id: 'q-2', text: 'Tom has 12 pens and gives away 5.' }, 'Hello'];

describe('a random model with the 32 000-token Llama tokenizer', () => {
  let model: GenerationModel;
  beforeAll(async () => {
    const read = (f: string) =>
      JSON.parse(readFileSync(path.join(LLAMA_FP16, f), 'utf8')) as Record<string, unknown>;
    const dir = createBaseModel({
      config: { vocabSize: 32000, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 64, maxSeqLen: 128 },
      tokenizerFiles: {
        tokenizerJson: read('tokenizer.json'),
        tokenizerConfig: read('tokenizer_config.json'),
      },
      seed: 11,
      dir: path.join(tmp, 'llama-32000'),
    });
    model = await loadGenerationModel(dir, { threads: 2 });
    expect(model.logitsSize).toBe(32000);
  });

  it('greedy: the same tokens at 4 and 8 steps per run as one step at a time', async () => {
    await expectSameAsOneStep(
      model,
      { prompts: PROMPTS, n: 2, temperature: 0, maxNewTokens: 20, seed: 0 },
      [4, 8],
    );
  });

  it('sampled with temperature and top-k, rows stopping inside runs: the same samples', async () => {
    // A stop string most tokens of the BPE vocabulary contain, so rows stop at many different steps.
    const request = {
      prompts: PROMPTS,
      n: 6,
      temperature: 0.8,
      topK: 40,
      maxNewTokens: 24,
      stop: ['e'],
      seed: 's',
    };
    const one = await expectSameAsOneStep(model, request, [3, 8]);
    expect(one.some((c) => c.finishReason === 'stop')).toBe(true);
    expect(new Set(one.map((c) => c.tokenIds.length)).size).toBeGreaterThan(3);
  });

  it('sampled with top-p and min-p (nuclei past the first 1 024 ranks too): the same samples', async () => {
    for (const [extra, seed] of [
      [{ temperature: 0.3, topP: 0.95, minP: 0.001 }, 'wide'],
      [{ temperature: 0.7, topK: 200, topP: 0.5 }, 'narrow'],
    ] as const)
      await expectSameAsOneStep(model, { prompts: PROMPTS, n: 4, maxNewTokens: 12, seed, ...extra }, [8]);
  });

  it('sampled from the whole vocabulary (no top-k): the same samples', async () => {
    await expectSameAsOneStep(
      model,
      { prompts: PROMPTS, n: 4, temperature: 1, maxNewTokens: 16, seed: 'full' },
      [8],
    );
  });
});

// Every family switch the engine supports: biases (qwen2, llama-bias), q/k norm and head_dim
// (qwen3), rope scaling (llama3-rope, llama-yarn), tied embeddings (smollm2, qwen3), a model
// vocabulary padded past the tokenizer's (qwen2: 387 logits, 384 token ids).
describe.each(['qwen2', 'qwen3', 'llama3-rope', 'llama-yarn', 'llama-bias', 'smollm2'])(
  'the Hugging Face fixture %s (the engine graph from its safetensors)',
  (name) => {
    it('greedy and sampled with top-k: the same samples at 4 steps per run as one at a time', async () => {
      const model = await loadGenerationModel(hfModelDir(name), { threads: 2, graphCacheDir });
      await expectSameAsOneStep(
        model,
        { prompts: PROMPTS, n: 2, temperature: 0, maxNewTokens: 12, seed: 0 },
        [4],
      );
      const request = {
        prompts: PROMPTS,
        n: 6,
        temperature: 0.9,
        topK: 30,
        maxNewTokens: 16,
        stop: [' '],
        seed: name,
      };
      const one = await expectSameAsOneStep(model, request, [4]);
      expect(new Set(one.map((c) => c.tokenIds.length)).size).toBeGreaterThan(1);
    });
  },
);

describe('sliding-window attention (the mistral fixture: window 8, sharded weights)', () => {
  it('the same samples at 4 and 16 steps per run, prompts and completions past the window', async () => {
    const model = await loadGenerationModel(hfModelDir('mistral'), { threads: 2, graphCacheDir });
    // Every prompt but one is longer than the window, so past columns drop out of it; at 16 steps
    // per run the run's own first tokens drop out of it too.
    const prompts = [...PROMPTS, 'Q: Ann buys 3 pens at $4 each and a book for $11. What is her change?\nA:'];
    expect(
      prompts.filter((p) => model.tokenizer.encode(typeof p === 'string' ? p : p.text).length > 8),
    ).toHaveLength(3);
    await expectSameAsOneStep(model, { prompts, n: 2, temperature: 0, maxNewTokens: 24, seed: 0 }, [4, 16]);
    await expectSameAsOneStep(
      model,
      { prompts, n: 4, temperature: 0.9, topK: 30, maxNewTokens: 24, seed: 'window' },
      [4, 16],
    );
  });
});

describe("a Hugging Face folder: the decode-steps graph shares the decoder's weights file", () => {
  it("refers to the weights in the decoder's external data file and draws the same samples", async () => {
    // The graph built from the qwen2 fixture keeps its weights in onnx/model.onnx_data; the one
    // loadGenerationModel then finds in the cache.
    const cache = path.join(tmp, 'graphs-external');
    const decoder = graphFromWeights(hfModelDir('qwen2'), cache);
    expect(existsSync(path.join(path.dirname(decoder), 'model.onnx_data'))).toBe(true);
    const model = await loadGenerationModel(hfModelDir('qwen2'), { threads: 2, graphCacheDir: cache });
    expect(model.modelFile).toBe(decoder);
    const request = {
      prompts: PROMPTS,
      n: 4,
      temperature: 0.9,
      topK: 30,
      maxNewTokens: 16,
      seed: 'external',
    };
    await expectSameAsOneStep(model, request, [4]);
    // Beside the decoder, every weight a reference into the decoder's own data file.
    const steps = path.join(path.dirname(decoder), 'decode-steps-4-top-k.onnx');
    const refs = externalRefsOf(readFileSync(decoder));
    expect(refs.size).toBeGreaterThan(10);
    expect(externalRefsOf(readFileSync(steps))).toEqual(refs);
  });
});

describe('what stays on the one-step loop, and why', () => {
  const options = parseSampleOptions({ prompts: ['Hi'], n: 1, temperature: 0.7, maxNewTokens: 4, seed: 1 });

  it("a Hugging Face folder's own ONNX export: the export's Loop, not the engine's k-step graph", async () => {
    // The qwen2 fixture with an onnx/model.onnx beside its safetensors: the sampler runs that export,
    // which the engine did not build (here it is the engine's graph, but nothing marks it so), so
    // its several steps per run are the export's own graph in a Loop (decoder-loop.ts).
    const dir = path.join(tmp, 'qwen2-with-export');
    cpSync(hfModelDir('qwen2'), dir, { recursive: true });
    const ckpt = loadCheckpoint(dir, { weightsOnly: true });
    mkdirSync(path.join(dir, 'onnx'));
    writeFileSync(
      path.join(dir, 'onnx', 'model.onnx'),
      serialize(buildInferenceGraph(ckpt.config, ckpt.params)).model,
    );
    const model = await loadGenerationModel(dir, { threads: 2, graphCacheDir });
    expect(decodeStepsUnavailable(model, options)).toBeNull();
    expect(stepsGraphOf(model)).toBe('decoder-loop');
  });

  it('too little memory for a second copy of the weights', async () => {
    const model = await loadGenerationModel(hfModelDir('llama-linear'), { threads: 2, graphCacheDir });
    expect(decodeStepsUnavailable(model, options)).toBeNull();
    // The machine's available memory as the check reads it, below twice the float32 weights.
    const freemem = jest.spyOn(os, 'freemem').mockReturnValue(1024);
    try {
      expect(decodeStepsUnavailable(model, options)).toMatch(
        /second copy of the 0\.0 GiB of float32 weights/,
      );
      // Once its session is built the check is not repeated (the session is the memory it asked for).
      freemem.mockRestore();
      await decodeStepsSession(model, options.stepsPerRun, NO_TRUNCATIONS);
      jest.spyOn(os, 'freemem').mockReturnValue(1024);
      expect(decodeStepsUnavailable(model, options)).toBeNull();
      // Another graph (top-p's, or another k) would be a session of its own, another copy: checked.
      expect(decodeStepsUnavailable(model, { ...options, topP: 0.9 })).toMatch(/second copy/);
      expect(decodeStepsUnavailable(model, { ...options, stepsPerRun: 4 })).toMatch(/second copy/);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('nothing for float16 caches (the ort-genai export): its own Loop keeps its dtype', async () => {
    const model = await loadGenerationModel(LLAMA_FP16, { threads: 2 });
    expect(decodeStepsUnavailable(model, options)).toBeNull();
    expect(stepsGraphOf(model)).toBe('decoder-loop');
  });
});
