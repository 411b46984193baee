/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type GenerationModel,
  type PromptDone,
  loadGenerationModel,
  generatePaths,
} from '../../../engine/generate';
import type { PromptSkipped } from '../../../engine/generate/generate-paths';
import { createBaseModel } from '../../../engine/checkpoint';

const MAX_POSITIONS = 32;

// A random tiny checkpoint whose config.json says max_position_embeddings 32, with the character
// tokenizer (one token per character, plus BOS): prompt lengths are exact by construction.
let model: GenerationModel;
beforeAll(async () => {
  const dir = createBaseModel({
    config: { dModel: 32, nLayers: 1, nHeads: 4, nKvHeads: 2, dFF: 64, maxSeqLen: MAX_POSITIONS },
    seed: 3,
    dir: path.join(mkdtempSync(path.join(os.tmpdir(), 'lmsi-context-')), 'model'),
  });
  model = await loadGenerationModel(dir, { threads: 1 });
});

const tokens = (text: string) => model.tokenizer.encode(text, { bos: true }).length;
const SHORT = 'Q: 2+2?';
const LONG = 'Q: '.padEnd(40, 'x');
const EDGE = 'Q: '.padEnd(MAX_POSITIONS - 2, 'y'); // one new token fits, no more
const FULL = 'Q: '.padEnd(MAX_POSITIONS - 1, 'z'); // prompt + 1 new token > max positions
const NEAR = 'Q: '.padEnd(20, 'w'); // maxNewTokens 16 is clipped to the positions left
const SAMPLING = { n: 3, temperature: 0.9, maxNewTokens: 16, seed: 'ctx' };

describe('a prompt longer than the context', () => {
  it('is skipped with its reason while the other prompts are sampled (their samples unchanged)', async () => {
    expect([tokens(SHORT), tokens(LONG), tokens(EDGE), tokens(FULL), tokens(NEAR)]).toEqual([
      8,
      41,
      MAX_POSITIONS - 1,
      MAX_POSITIONS,
      21,
    ]);
    const skipped: PromptSkipped[] = [];
    const done: PromptDone[] = [];
    const prompts = [SHORT, LONG, EDGE, FULL, NEAR];
    const results = await generatePaths(model, {
      ...SAMPLING,
      prompts,
      onPromptSkipped: (s) => void skipped.push(s),
      onPromptDone: (d) => void done.push(d),
    });
    expect(skipped).toEqual([
      {
        index: 1,
        key: LONG,
        reason: 'prompt-longer-than-context',
        promptTokens: 41,
        maxPositions: MAX_POSITIONS,
      },
      {
        index: 3,
        key: FULL,
        reason: 'prompt-longer-than-context',
        promptTokens: MAX_POSITIONS,
        maxPositions: MAX_POSITIONS,
      },
    ]);
    expect(results.map((r) => r.length)).toEqual([3, 0, 3, 0, 3]);
    expect(done.map((d) => [d.key, d.maxNewTokens]).sort()).toEqual(
      [
        [SHORT, 16],
        [EDGE, 1],
        [NEAR, MAX_POSITIONS - 21],
      ].sort(),
    );
    // No row runs past the model's positions.
    for (const [i, r] of results.entries())
      for (const c of r) expect(tokens(prompts[i]) + c.tokenIds.length).toBeLessThanOrEqual(MAX_POSITIONS);
    expect(results[2].every((c) => c.tokenIds.length === 1)).toBe(true);

    // The prompts that fit sample exactly as they do in a call without the long ones.
    const alone = await generatePaths(model, { ...SAMPLING, prompts: [SHORT, EDGE, NEAR] });
    expect([results[0], results[2], results[4]]).toEqual(alone);
  });

  it('only too-long prompts: nothing is sampled, every prompt is reported', async () => {
    const skipped: PromptSkipped[] = [];
    const results = await generatePaths(model, {
      ...SAMPLING,
      prompts: [{ id: 'q-1', text: LONG }],
      onPromptSkipped: (s) => void skipped.push(s),
    });
    expect(results).toEqual([[]]);
    expect(skipped.map((s) => s.key)).toEqual(['q-1']);
  });

  it('without onPromptSkipped the call refuses it, naming the prompt and the limit', async () => {
    await expect(generatePaths(model, { ...SAMPLING, prompts: [SHORT, LONG] })).rejects.toThrow(
      new RegExp(`^generatePaths: prompts\\.1: 41 tokens, but .* takes at most ${MAX_POSITIONS} positions`),
    );
  });
});
