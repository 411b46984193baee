import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createBaseModel, loadCheckpoint } from '../../../engine/checkpoint';
import { ExecutionProviderUnavailableError, cudaUnavailableReason } from '../../../engine/generate/provider';
import { fineTune } from '../../../engine/train';

/**
 * The trainer honours the execution provider (model.executionProvider). Where the CUDA provider
 * cannot load (every CI machine), asking for it fails before any work with the reason, or trains on
 * the CPU and says why when a fallback is allowed. Where it can load (a GPU machine with
 * infra/gpu/install-cuda-ep run), the same run trains on the GPU to the CPU run's losses.
 */

const root = mkdtempSync(path.join(os.tmpdir(), 'lmsi-provider-'));
let n = 0;
const fresh = (name: string) => path.join(root, `${name}-${n++}`);
const EXAMPLES = Array.from({ length: 8 }, (_, i) => ({ prompt: `${i}+${i}=`, completion: String(2 * i) }));
const CONFIG = {
  steps: 3,
  learningRate: 1e-2,
  batchSize: 2,
  seqLen: 16,
  checkpointEvery: 10,
  seed: 'provider',
};

let base: string;
beforeAll(() => {
  base = createBaseModel({
    dir: fresh('base'),
    config: { vocabSize: 96, dModel: 16, nLayers: 1, nHeads: 2, nKvHeads: 2, dFF: 32, maxSeqLen: 32 },
    seed: 5,
  });
});

const cudaReason = cudaUnavailableReason();

test('cpu is the default and says so', async () => {
  const r = await fineTune({ from: base, outDir: fresh('cpu'), examples: EXAMPLES, config: CONFIG });
  expect(r.provider).toBe('cpu');
  expect(r.providerFallbackReason).toBeNull();
});

if (cudaReason !== null) {
  test('cuda that cannot load: a clear error before any work, naming what is missing', async () => {
    const outDir = fresh('cuda-refused');
    const run = fineTune({ from: base, outDir, examples: EXAMPLES, config: CONFIG, provider: 'cuda' });
    await expect(run).rejects.toBeInstanceOf(ExecutionProviderUnavailableError);
    await expect(run).rejects.toThrow(cudaReason);
    expect(existsSync(outDir) ? readdirSync(outDir) : []).toEqual([]);
  });

  test('cuda that cannot load, with the CPU fallback allowed: trains on the CPU to the same weights', async () => {
    const cpu = await fineTune({ from: base, outDir: fresh('cpu'), examples: EXAMPLES, config: CONFIG });
    const fallback = await fineTune({
      from: base,
      outDir: fresh('fallback'),
      examples: EXAMPLES,
      config: CONFIG,
      provider: 'cuda',
      allowCpuFallback: true,
    });
    expect(fallback.provider).toBe('cpu');
    expect(fallback.providerFallbackReason).toBe(cudaReason);
    expect(fallback.lossCurve).toEqual(cpu.lossCurve);
    const [a, b] = [cpu, fallback].map((r) => loadCheckpoint(r.checkpointDir).params);
    for (const [name, w] of a) expect(b.get(name)).toEqual(w);
  });
} else {
  test('cuda that loads: trains on the GPU to the CPU run’s losses', async () => {
    const cpu = await fineTune({ from: base, outDir: fresh('cpu'), examples: EXAMPLES, config: CONFIG });
    const gpu = await fineTune({
      from: base,
      outDir: fresh('cuda'),
      examples: EXAMPLES,
      config: CONFIG,
      provider: 'cuda',
    });
    expect(gpu.provider).toBe('cuda');
    expect(gpu.providerFallbackReason).toBeNull();
    gpu.lossCurve.forEach((p, i) => expect(p.loss).toBeCloseTo(cpu.lossCurve[i].loss, 3));
  });

  test('cuda that loads, LoRA (the frozen base held by the sessions on the device): the CPU run’s losses', async () => {
    const config = { ...CONFIG, method: 'lora' as const, lora: { rank: 4, alpha: 8 } };
    const cpu = await fineTune({ from: base, outDir: fresh('cpu-lora'), examples: EXAMPLES, config });
    const gpu = await fineTune({
      from: base,
      outDir: fresh('cuda-lora'),
      examples: EXAMPLES,
      config,
      provider: 'cuda',
    });
    expect(gpu.provider).toBe('cuda');
    gpu.lossCurve.forEach((p, i) => expect(p.loss).toBeCloseTo(cpu.lossCurve[i].loss, 3));
    expect(gpu.lossCurve.at(-1)!.loss).not.toBe(gpu.lossCurve[0].loss);
  });
}
