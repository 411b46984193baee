import { createReadStream, existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { readSafetensors } from '../../engine/checkpoint';
import { startCampaign } from '../../client';
import { LocalArtifactStore } from '../../store';
import { campaignWorkers, withWorkers } from '../helpers/campaign';
import { testCampaignConfig } from '../../testing/campaign-config';
import { connectTestTemporal, tempDir, type TestTemporal } from '../helpers/temporal';
import { hfModelDir } from '../engine/hf/fixtures';

/**
 * Bring your own model: a campaign on users' Hugging Face folders (safetensors only, no ONNX export),
 * through the real workflows on the real dev server. Round 0 evaluates, round 1 samples through the
 * engine's inference graph built from the weights, votes, fine-tunes the model in its own family and
 * dtype, and evaluates the result. The fixtures are random-weight models, so what is checked is the
 * path, not the accuracy.
 */

let temporal: TestTemporal;
beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  await temporal.close();
});

const GSM8K = path.resolve(__dirname, '../../../shared/data/gsm8k/test.jsonl');

async function firstLines(file: string, n: number, out: string): Promise<string> {
  const lines: string[] = [];
  for await (const line of readline.createInterface({ input: createReadStream(file) })) {
    if (line.trim()) lines.push(line);
    if (lines.length === n) break;
  }
  await fs.writeFile(out, `${lines.join('\n')}\n`);
  return out;
}

describe.each([
  ['qwen2', 'Qwen2 with biases and a ChatML template', 'full'],
  ['mistral', 'Mistral, sharded, with a sliding window', 'full'],
  ['qwen3', 'Qwen3, BF16, q/k norm, LoRA', 'lora'],
] as const)('a campaign on the %s fixture (%s)', (name, _about, method) => {
  it('samples, votes, fine-tunes and evaluates a round; the model stays in its family and dtype', async () => {
    const root = await tempDir(`hf-${name}`);
    const data = path.join(root, 'data');
    await fs.mkdir(data);
    const unlabeled = await firstLines(GSM8K, 8, path.join(data, 'unlabeled.jsonl'));
    const evaluation = await firstLines(GSM8K, 4, path.join(data, 'eval.jsonl'));
    const config = testCampaignConfig({
      name: `hf-${name}-${Date.now()}`,
      modelDir: hfModelDir(name),
      dataDir: data,
      artifactsDir: path.join(root, 'artifacts'),
      extra: {
        // Any path's last character is its answer, and near-greedy paths agree: a random model's
        // round keeps paths and trains (gsm8k's answer rule would find nothing to keep).
        task: {
          name: 'custom',
          questionField: 'question',
          answerField: 'answer',
          answerPattern: '(\\S)\\s*$',
          answerType: 'text',
        },
        data: { unlabeledQuestions: unlabeled, evaluation },
        sampling: {
          m: 4,
          temperature: 1,
          maxNewTokens: 24,
          prompt: 'zero-shot-cot',
          shardSize: 8,
          maxConcurrentShards: 1,
        },
        training: {
          steps: 2,
          batchSize: 2,
          checkpointEvery: 1,
          learningRate: 1e-3,
          ...(method === 'lora' ? { method, lora: { rank: 4, alpha: 8 } } : {}),
        },
        evaluation: { scK: [2], shardSize: 4 },
        rounds: 1,
      },
    });
    const workers = await campaignWorkers(temporal, config);
    const result = await withWorkers(workers, async () =>
      (await startCampaign(temporal.client, config)).result(),
    ).catch((e: unknown) => {
      // The failure's whole chain in the test's message: the reason is in the innermost cause.
      const chain: string[] = [];
      for (let c = e as Error | undefined; c; c = c.cause as Error | undefined) chain.push(c.message);
      throw new Error(chain.join(' <- '));
    });
    expect(result.rounds.map((r) => r.round)).toEqual([0, 1]);
    const store = new LocalArtifactStore(config.artifacts.dir);
    const round1 = await store.getJson<{
      result: { training: { trained: boolean; modelRef: string } | null; sampling: { paths: number } | null };
    }>(result.rounds[1].resultRef!);
    expect(round1.result.sampling).not.toBeNull();
    const training = round1.result.training!;
    expect(training.trained).toBe(true);
    const model = path.join(root, 'model-out');
    await store.materializeTree(training.modelRef, model);
    const source = JSON.parse(await fs.readFile(path.join(hfModelDir(name), 'config.json'), 'utf8')) as {
      dtype?: string;
      torch_dtype?: string;
    };
    expect(JSON.parse(await fs.readFile(path.join(model, 'config.json'), 'utf8'))).toEqual(source);
    const names: Record<string, string> = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' };
    const dtype = names[source.dtype ?? source.torch_dtype ?? 'float32'];
    // With LoRA the round's model is the merge, its adapters beside it in PEFT's layout.
    expect(existsSync(path.join(model, 'adapter', 'adapter_model.safetensors'))).toBe(method === 'lora');
    for (const t of Object.values(readSafetensors(path.join(model, 'model.safetensors')).tensors))
      expect(t.dtype).toBe(dtype);
  });
});
