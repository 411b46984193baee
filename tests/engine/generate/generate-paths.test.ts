/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import * as ort from 'onnxruntime-node';
import {
  type Completion,
  type GenerationModel,
  type PromptDone,
  loadGenerationModel,
  generatePaths,
} from '../../../engine/generate';
import { halvesToFloats } from '../../../engine/generate/fp16';
import { LLAMA_FP16 } from './fixture';

const PROMPTS = [
  'Q: Sam has 3 apples and buys 4 more. How many apples does he have?\nA:',
  'Hello',
  { id: 'q-17', text: 'The quick brown fox jumps over the lazy dog because' },
  'Q: 12 + 30 = ?\nA: Let us think step by step.',
];
const SAMPLING = { n: 5, temperature: 0.9, topK: 200, topP: 0.95, maxNewTokens: 10, seed: 'run-1/round-0' };

let model: GenerationModel;
beforeAll(async () => {
  model = await loadGenerationModel(LLAMA_FP16, { threads: 2 });
});

/** Greedy decoding without a cache: the whole sequence through the model at every step. */
async function uncachedGreedy(prompt: string, maxNewTokens: number): Promise<number[]> {
  const sig = model.signature;
  const ids = model.tokenizer.encode(prompt, { bos: true });
  const out: number[] = [];
  const logits = new Float32Array(model.logitsSize);
  for (let step = 0; step < maxNewTokens; step++) {
    const n = ids.length;
    const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, n]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64(ids),
      attention_mask: i64(ids.map(() => 1)),
      position_ids: i64(ids.map((_, i) => i)),
    };
    for (const name of sig.pastNames)
      feeds[name] = new ort.Tensor('float16', new Uint16Array(0), [1, sig.kvHeads, 0, sig.headDim]);
    const res = await model.session.run(feeds);
    const all = res.logits.data as Uint16Array;
    halvesToFloats(all.subarray((n - 1) * logits.length, n * logits.length), logits);
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    out.push(best);
    ids.push(best);
    if (model.eosIds.includes(best)) break;
  }
  return out;
}

const strip = (rs: Completion[][]) => rs.map((r) => r.map((c) => ({ ...c })));

describe('generatePaths on the fp16 Llama fixture (contrib ops, fp16 KV cache, external data)', () => {
  it('reads the cache layout from the session metadata', () => {
    expect(model.signature).toMatchObject({
      layers: 2,
      cacheDType: 'float16',
      logitsDType: 'float16',
      kvHeads: 1,
      headDim: 16,
      logitsSize: 32000,
      hasPositionIds: true,
    });
    expect(model.eosIds).toEqual([2]);
    expect(model.provider).toBe('cpu');
  });

  it('generates text: n completions per prompt with tokens, text, finish reason and log-probability', async () => {
    const done: PromptDone[] = [];
    const results = await generatePaths(model, {
      ...SAMPLING,
      prompts: PROMPTS,
      onPromptDone: (d) => void done.push(d),
    });
    expect(results).toHaveLength(PROMPTS.length);
    for (const r of results) {
      expect(r).toHaveLength(SAMPLING.n);
      for (const c of r) {
        expect(c.tokenIds.length).toBeGreaterThan(0);
        expect(c.tokenIds.length).toBeLessThanOrEqual(SAMPLING.maxNewTokens);
        expect(c.tokenIds.every((t) => Number.isInteger(t) && t >= 0 && t < 32000)).toBe(true);
        expect(c.text.length).toBeGreaterThan(0);
        expect(['eos', 'length']).toContain(c.finishReason);
        expect(c.sumLogprob).toBeLessThan(0);
        expect(Number.isFinite(c.sumLogprob)).toBe(true);
      }
      // Different paths of one prompt draw from different streams.
      expect(new Set(r.map((c) => c.tokenIds.join(','))).size).toBeGreaterThan(1);
    }
    expect(done.map((d) => d.index).sort()).toEqual([0, 1, 2, 3]);
    expect(done.find((d) => d.index === 2)?.key).toBe('q-17');
    expect(done.find((d) => d.index === 1)?.completions).toBe(results[1]);
  });

  it('cached decoding equals uncached decoding token for token (greedy)', async () => {
    const prompts = [PROMPTS[0] as string, PROMPTS[1] as string, PROMPTS[3] as string];
    const results = await generatePaths(model, { prompts, n: 2, temperature: 0, maxNewTokens: 12, seed: 0 });
    for (let i = 0; i < prompts.length; i++) {
      const expected = await uncachedGreedy(prompts[i], 12);
      expect(results[i][0].tokenIds).toEqual(expected);
      expect(results[i][1].tokenIds).toEqual(expected);
    }
  });

  it('rows of different lengths in one left-padded batch decode like separate batches (greedy)', async () => {
    const base = { prompts: PROMPTS, n: 3, temperature: 0, maxNewTokens: 12, seed: 0 };
    const separate = await generatePaths(model, base);
    const padded = await generatePaths(model, { ...base, mixLengths: true });
    expect(strip(padded)).toEqual(strip(separate));
  });

  it('gives identical samples whatever maxBatchRows, prompt order or split into two calls', async () => {
    // One token id in 50 ends a completion, so rows finish at different steps: batches keep finished
    // rows for a while, compact, and admit new rows mid-flight.
    const ragged = { ...model, eosIds: Array.from({ length: 640 }, (_, i) => i * 50 + 7) };
    const options = { ...SAMPLING, maxNewTokens: 14, prompts: PROMPTS };
    const reference = await generatePaths(ragged, { ...options, maxBatchRows: 64 });
    const reasons = new Set(reference.flat().map((c) => c.finishReason));
    expect([...reasons].sort()).toEqual(['eos', 'length']);
    for (const maxBatchRows of [1, 7]) {
      const r = await generatePaths(ragged, { ...options, maxBatchRows });
      expect(strip(r)).toEqual(strip(reference));
    }
    const first = await generatePaths(ragged, { ...options, prompts: PROMPTS.slice(0, 2), maxBatchRows: 7 });
    const second = await generatePaths(ragged, { ...options, prompts: PROMPTS.slice(2), maxBatchRows: 3 });
    expect(strip([...first, ...second])).toEqual(strip(reference));
    const reversed = await generatePaths(ragged, { ...options, prompts: [...PROMPTS].reverse() });
    expect(strip(reversed.reverse())).toEqual(strip(reference));
    // On this fp16 model padding happens not to change any logit, so one padded batch agrees too.
    const padded = await generatePaths(ragged, { ...options, maxBatchRows: 11, mixLengths: true });
    expect(strip(padded)).toEqual(strip(reference));
    // The same prompt under another id is another stream.
    const renamed = await generatePaths(ragged, {
      ...options,
      prompts: [{ id: 'other', text: PROMPTS[1] as string }],
    });
    expect(renamed[0].map((c) => c.tokenIds)).not.toEqual(reference[1].map((c) => c.tokenIds));
  });

  it('cuts the text at the first character of the earliest stop string', async () => {
    const prompt = PROMPTS[0] as string;
    const base = { prompts: [prompt], n: 1, temperature: 0, maxNewTokens: 16, seed: 0 };
    const [[free]] = await generatePaths(model, base);
    // A 3-character stop string that first occurs at character 9 of the free-running text.
    const start = [...free.text].findIndex(
      (_, k) => k >= 9 && free.text.indexOf(free.text.slice(k, k + 3)) === k,
    );
    expect(start).toBeGreaterThanOrEqual(9);
    const stop = free.text.slice(start, start + 3);
    const [[cut]] = await generatePaths(model, { ...base, stop: ['never appears', stop] });
    expect(cut.finishReason).toBe('stop');
    expect(cut.text).toBe(free.text.slice(0, start));
    expect(free.tokenIds.slice(0, cut.tokenIds.length)).toEqual(cut.tokenIds);
    expect(cut.tokenIds.length).toBeLessThan(free.tokenIds.length);
    // The earliest of two stop strings wins.
    const later = free.text.slice(start + 2, start + 5);
    const [[both]] = await generatePaths(model, { ...base, stop: [later, stop] });
    expect(both.text).toBe(free.text.slice(0, Math.min(start, free.text.indexOf(later))));
  });

  it('ends a completion on an eos token, keeping the token and its log-probability', async () => {
    const base = { prompts: [PROMPTS[1]], n: 1, temperature: 0, maxNewTokens: 12, seed: 0 };
    const [[free]] = await generatePaths(model, base);
    const eosAt = 3;
    const [[ended]] = await generatePaths({ ...model, eosIds: [free.tokenIds[eosAt]] }, base);
    expect(ended.finishReason).toBe('eos');
    expect(ended.tokenIds).toEqual(free.tokenIds.slice(0, free.tokenIds.indexOf(free.tokenIds[eosAt]) + 1));
  });

  it('stops at maxNewTokens, and at the model position limit', async () => {
    const [[c]] = await generatePaths(model, {
      prompts: ['Hello'],
      n: 1,
      temperature: 0,
      maxNewTokens: 4,
      seed: 0,
    });
    expect(c.finishReason).toBe('length');
    expect(c.tokenIds).toHaveLength(4);
    const promptLength = model.tokenizer.encode('Hello', { bos: true }).length;
    const limited = { ...model, maxPositions: promptLength + 2 };
    const [[short]] = await generatePaths(limited, {
      prompts: ['Hello'],
      n: 1,
      temperature: 0,
      maxNewTokens: 9,
      seed: 0,
    });
    expect(short.tokenIds).toHaveLength(2);
    await expect(
      generatePaths(
        { ...model, maxPositions: promptLength },
        { prompts: ['Hello'], n: 1, temperature: 0, maxNewTokens: 1, seed: 0 },
      ),
    ).rejects.toThrow(/at most .* positions/);
  });

  it('applies the repetition penalty (greedy output repeats no token at a very large penalty)', async () => {
    const [[c]] = await generatePaths(model, {
      prompts: ['Hello'],
      n: 1,
      temperature: 0,
      maxNewTokens: 16,
      seed: 0,
      repetitionPenalty: 1e4,
    });
    const seen = new Set(model.tokenizer.encode('Hello', { bos: true }));
    for (const t of c.tokenIds) {
      expect(seen.has(t)).toBe(false);
      seen.add(t);
    }
  });

  it('rejects invalid options', async () => {
    const ok = { prompts: ['Hello'], n: 1, temperature: 1, maxNewTokens: 4, seed: 0 };
    for (const bad of [
      { n: 0 },
      { temperature: -1 },
      { topK: -2 },
      { topK: 1.5 },
      { topP: 0 },
      { topP: 1.2 },
      { minP: 2 },
      { repetitionPenalty: 0 },
      { maxNewTokens: 0 },
      { stop: [''] },
      { maxBatchRows: 0 },
      { unknown: 1 },
    ])
      await expect(generatePaths(model, { ...ok, ...bad })).rejects.toThrow(RangeError);
  });
});
