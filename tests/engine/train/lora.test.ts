import { mkdtempSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createBaseModel, loadCheckpoint, readSafetensors } from '../../../engine/checkpoint';
import { loraSpecs, mergeLora, peftName, type Params } from '../../../engine/model';
import { type FineTuneConfigInput, TrainingAbortedError, fineTune } from '../../../engine/train';
import { isBadInputError } from '../../../base/errors';
import { Rng } from '../../../base/rng';

/**
 * LoRA fine-tuning through the trainer: the base stays frozen, only the adapters have AdamW state,
 * the result is the merged model with the adapters in PEFT's layout beside it, and a run stopped and
 * resumed ends with the same adapters as an uninterrupted one (dropout on, so its masks must follow).
 */

const root = mkdtempSync(path.join(os.tmpdir(), 'lmsi-lora-'));
let n = 0;
const fresh = (name: string) => path.join(root, `${name}-${n++}`);
const rng = new Rng(7);
const word = (len: number) => Array.from({ length: len }, () => rng.pick([...'abcdefghij'])).join('');
const EXAMPLES = Array.from({ length: 16 }, () => ({
  prompt: `${word(rng.int(2, 8))}=`,
  completion: word(rng.int(1, 5)),
}));

const CONFIG: FineTuneConfigInput = {
  steps: 8,
  learningRate: 1e-2,
  batchSize: 2,
  gradientAccumulation: 2,
  seqLen: 24,
  checkpointEvery: 3,
  keepCheckpoints: 5,
  seed: 'lora-test',
  method: 'lora',
  lora: { rank: 4, alpha: 8, dropout: 0.1, targetModules: ['q', 'v', 'o', 'up', 'down'] },
};

let base: string;
beforeAll(() => {
  base = createBaseModel({
    dir: fresh('base'),
    config: { vocabSize: 96, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 64, maxSeqLen: 64 },
    seed: 3,
  });
});

const maxDiff = (a: Params, b: Params): number => {
  let worst = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  return worst;
};

let straight: Awaited<ReturnType<typeof fineTune>>;

test('trains the adapters only and writes the merged model with PEFT-layout adapters beside it', async () => {
  const outDir = fresh('straight');
  straight = await fineTune({ from: base, outDir, examples: EXAMPLES, config: CONFIG, threads: 2 });
  expect(straight.steps).toBe(8);
  expect(straight.lossCurve[7].loss).toBeLessThan(straight.lossCurve[0].loss);

  const src = loadCheckpoint(base);
  const out = loadCheckpoint(straight.checkpointDir);
  const lora = out.lora!;
  expect(lora.config).toEqual(CONFIG.lora);
  const specs = loraSpecs(src.config, lora.config);
  // AdamW state exists for the adapters only.
  expect([...out.optimizer!.expAvg.keys()].sort()).toEqual(specs.map((s) => s.name).sort());
  // The model is the merge of the (unchanged) base and the adapters.
  expect(maxDiff(out.params, mergeLora(src.config, lora.config, src.params, lora.adapters))).toBe(0);
  expect(maxDiff(out.params, src.params)).toBeGreaterThan(0);
  // PEFT's names in adapter/adapter_model.safetensors.
  const adapter = readSafetensors(path.join(straight.checkpointDir, 'adapter', 'adapter_model.safetensors'));
  expect(Object.keys(adapter.tensors).sort()).toEqual(specs.map((s) => peftName(s.name)).sort());
  expect(Object.keys(adapter.tensors)[0]).toMatch(
    /^base_model\.model\.model\.layers\.\d\.(self_attn|mlp)\.\w+_proj\.lora_[AB]\.weight$/,
  );

  // A checkpoint on the way holds the base as it came (frozen) and the adapters so far.
  const middle = loadCheckpoint(path.join(outDir, 'checkpoint-3'));
  expect(maxDiff(middle.params, src.params)).toBe(0);
  expect(maxDiff(middle.lora!.adapters, lora.adapters)).toBeGreaterThan(0);
  expect(readdirSync(path.join(outDir, 'checkpoint-3')).sort()).toContain('adapter');
});

test('stopped at step 4 and resumed, the run ends with the same adapters and moments', async () => {
  const outDir = fresh('resumed');
  const controller = new AbortController();
  await expect(
    fineTune({
      from: base,
      outDir,
      examples: EXAMPLES,
      config: CONFIG,
      threads: 2,
      signal: controller.signal,
      onProgress: (p) => void (p.step === 4 && controller.abort()),
    }),
  ).rejects.toBeInstanceOf(TrainingAbortedError);
  const resumed = await fineTune({
    from: base,
    outDir,
    examples: EXAMPLES,
    config: CONFIG,
    threads: 2,
    resume: true,
  });
  expect(resumed.lossCurve).toEqual(straight.lossCurve);
  const a = loadCheckpoint(straight.checkpointDir);
  const b = loadCheckpoint(resumed.checkpointDir);
  expect(maxDiff(a.lora!.adapters, b.lora!.adapters)).toBe(0);
  expect(maxDiff(a.optimizer!.expAvgSq, b.optimizer!.expAvgSq)).toBe(0);
  expect(maxDiff(a.params, b.params)).toBe(0);
});

test('a resumed run with other LoRA options is refused, naming the option', async () => {
  let err: unknown;
  try {
    await fineTune({
      from: straight.checkpointDir,
      outDir: fresh('other'),
      examples: EXAMPLES,
      config: { ...CONFIG, lora: { ...CONFIG.lora, rank: 2 } },
      resume: true,
    });
  } catch (e) {
    err = e;
  }
  expect(isBadInputError(err)).toBe(true);
  expect((err as Error).message).toContain('args.lora');
});

test('LoRA options without method lora are a config error', async () => {
  await expect(
    fineTune({ from: base, outDir: fresh('bad'), examples: EXAMPLES, config: { ...CONFIG, method: 'full' } }),
  ).rejects.toThrow(/lora: LoRA options need method 'lora'/);
});
