/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createBaseModel } from '../../../engine/checkpoint';
import {
  type Completion,
  type GenerationModel,
  emptyTimings,
  loadGenerationModel,
  generatePaths,
} from '../../../engine/generate';
import type { GeneratePathsRequest } from '../../../engine/generate/generate-paths';
import { LLAMA_FP16 } from './fixture';

// Several decode steps per session.run (the cache stays inside onnxruntime, the draw happens in the
// graph from the rows' own uniforms) on one of our own checkpoints.
const PROMPTS = [
  'Q: 3 + 4 = ?\nA:',
  { id: 'q-2', text: 'Q: Tom has 12 pens and gives away 5. How many are left?\nA:' },
  'Hi',
  'x = 7; y =',
  'Q: 3 + 4 = ?\nA:  ',
];
const strip = (rs: Completion[][]) => rs.map((r) => r.map((c) => ({ ...c })));
const tokens = (rs: Completion[][]) => rs.map((r) => r.map((c) => c.tokenIds));

let model: GenerationModel;
beforeAll(async () => {
  const dir = createBaseModel({
    config: { vocabSize: 96, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 64, maxSeqLen: 160 },
    seed: 5,
    dir: path.join(mkdtempSync(path.join(os.tmpdir(), 'lmsi-decode-steps-')), 'model'),
  });
  model = await loadGenerationModel(dir, { threads: 2 });
});

async function sample(request: GeneratePathsRequest, expectSteps: number): Promise<Completion[][]> {
  const timings = emptyTimings();
  const out = await generatePaths(model, { ...request, timings });
  expect(timings.stepsFallbackReason).toBeNull();
  expect(timings.stepsPerRun).toBe(expectSteps);
  return out;
}

describe('generatePaths with several decode steps per run (our own checkpoint)', () => {
  it('greedy: the same tokens as the one-step loop, log-probabilities up to float32 rounding', async () => {
    const options = { prompts: PROMPTS, n: 2, temperature: 0, maxNewTokens: 40, seed: 0 };
    const one = await sample({ ...options, stepsPerRun: 1 }, 1);
    for (const steps of [4, 8]) {
      const many = await sample({ ...options, stepsPerRun: steps }, steps);
      expect(tokens(many)).toEqual(tokens(one));
      many.flat().forEach((c, i) => {
        expect(c.text).toBe(one.flat()[i].text);
        expect(c.finishReason).toBe(one.flat()[i].finishReason);
        expect(c.sumLogprob).toBeCloseTo(one.flat()[i].sumLogprob, 4);
      });
    }
  });

  it('sampled (temperature, top-k, stop strings): the same tokens as the one-step loop for a fixed seed', async () => {
    const options = {
      prompts: PROMPTS,
      n: 8,
      temperature: 0.8,
      topK: 20,
      maxNewTokens: 50,
      stop: ['\n', ' A'],
      seed: 'steps',
    };
    const one = await sample({ ...options, stepsPerRun: 1 }, 1);
    const flat = one.flat();
    // The case the graph must cut: rows that stop inside a run, at different steps.
    expect(flat.some((c) => c.finishReason === 'stop')).toBe(true);
    expect(flat.some((c) => c.finishReason === 'length')).toBe(true);
    expect(new Set(flat.map((c) => c.tokenIds.length)).size).toBeGreaterThan(5);
    for (const steps of [3, 8]) {
      const many = await sample({ ...options, stepsPerRun: steps }, steps);
      expect(tokens(many)).toEqual(tokens(one));
      many.flat().forEach((c, i) => {
        expect(c.text).toBe(flat[i].text);
        expect(c.finishReason).toBe(flat[i].finishReason);
        expect(c.sumLogprob).toBeCloseTo(flat[i].sumLogprob, 4);
      });
    }
  });

  it('bit-identical samples across maxBatchRows 1 / 7 / 64 and a split into two calls', async () => {
    const options = { prompts: PROMPTS, n: 6, temperature: 1, maxNewTokens: 30, seed: 'own', stop: ['\n'] };
    const reference = await sample({ ...options, maxBatchRows: 1, stepsPerRun: 4 }, 4);
    expect(new Set(reference.flat().map((c) => c.tokenIds.length)).size).toBeGreaterThan(3);
    for (const maxBatchRows of [7, 64])
      expect(strip(await sample({ ...options, maxBatchRows, stepsPerRun: 4 }, 4))).toEqual(strip(reference));
    const first = await sample(
      { ...options, prompts: PROMPTS.slice(0, 2), maxBatchRows: 5, stepsPerRun: 4 },
      4,
    );
    const rest = await sample({ ...options, prompts: PROMPTS.slice(2), maxBatchRows: 9, stepsPerRun: 4 }, 4);
    expect(strip([...first, ...rest])).toEqual(strip(reference));
  });

  it('admits prompts shortest first, so equal-length prompts share a batch whatever their order', async () => {
    // Two lengths, interleaved. Batches hold only equal-length caches: admitted in the given order,
    // each prompt's 4 rows would run alone (8 runs of 4 rows); shortest first, the two short prompts
    // fill one 8-row batch and the two long ones the next (4 runs of 8 rows).
    const prompts = [
      'Q: 3 + 4 = ?\nA:',
      'Q: Tom has 12 pens.\nA:',
      'Q: 5 + 2 = ?\nA:',
      'Q: Ann has 31 cups.\nA:',
    ];
    const noEos = { ...model, eosIds: [] };
    const options = {
      prompts,
      n: 4,
      temperature: 1,
      maxNewTokens: 9,
      seed: 'order',
      stepsPerRun: 4,
      maxBatchRows: 8,
    };
    const timings = emptyTimings();
    const sorted = await generatePaths(noEos, { ...options, timings });
    expect(timings.stepsPerRun).toBe(4);
    expect(timings.decodeRuns).toBe(4);
    expect(timings.decodedRows).toBe(4 * 8 * 4);
    expect(sorted.flat().every((c) => c.finishReason === 'length' && c.tokenIds.length === 9)).toBe(true);
    // The samples are those of each prompt alone.
    for (const [i, prompt] of prompts.entries()) {
      const [alone] = await generatePaths(noEos, { ...options, prompts: [prompt] });
      expect(strip([alone])).toEqual(strip([sorted[i]]));
    }
  });

  it('top-p and min-p (in the graph): the same tokens as the one-step loop for a fixed seed', async () => {
    for (const extra of [
      { topP: 0.9, minP: 0.05 },
      { topK: 30, topP: 0.6 },
      { temperature: 0, topP: 0.5, minP: 0.2 },
    ]) {
      const options = {
        prompts: PROMPTS,
        n: 6,
        temperature: 1.2,
        maxNewTokens: 24,
        seed: 'nucleus',
        ...extra,
      };
      const one = await sample({ ...options, stepsPerRun: 1 }, 1);
      const many = await sample({ ...options, stepsPerRun: 8 }, 8);
      expect(tokens(many)).toEqual(tokens(one));
      many.flat().forEach((c, i) => {
        expect(c.finishReason).toBe(one.flat()[i].finishReason);
        expect(c.sumLogprob).toBeCloseTo(one.flat()[i].sumLogprob, 4);
      });
    }
  });

  it('falls back to the one-step loop for processors the graph lacks, and says why', async () => {
    for (const [extra, reason] of [
      [{ repetitionPenalty: 1.2 }, /repetition penalty/],
      [{ mixLengths: true }, /mixLengths/],
    ] as const) {
      const timings = emptyTimings();
      const options = { prompts: PROMPTS.slice(0, 2), n: 2, temperature: 0.7, maxNewTokens: 5, seed: 1 };
      await generatePaths(model, { ...options, ...extra, stepsPerRun: 8, timings });
      expect(timings.stepsPerRun).toBe(1);
      expect(timings.stepsFallbackReason).toMatch(reason);
    }
  });

  it("runs a model it did not build (the fp16 fixture) in the decoder's own Loop (decoder-loop.test.ts)", async () => {
    const fixture = await loadGenerationModel(LLAMA_FP16, { threads: 2 });
    const timings = emptyTimings();
    const out = await generatePaths(fixture, {
      prompts: ['Hello'],
      n: 2,
      temperature: 0.7,
      maxNewTokens: 4,
      seed: 1,
      timings,
    });
    expect(out[0]).toHaveLength(2);
    expect(timings.stepsPerRun).toBe(8);
    expect(timings.stepsGraph).toBe('decoder-loop');
    expect(timings.stepsFallbackReason).toBeNull();
  });
});
