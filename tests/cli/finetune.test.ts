import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSafetensors } from '../../engine/checkpoint';
import { cudaUnavailableReason } from '../../engine/generate/provider';
import { hfModelDir } from '../engine/hf/fixtures';
import { runLmsi } from './process';

/**
 * The engine from the command line, without Temporal: `lmsi model check DIR` and `lmsi finetune`, on a
 * Hugging Face checkpoint (the qwen3 fixture: BF16, chat template in chat_template.jinja).
 */

const root = path.resolve(__dirname, '../..');
const work = mkdtempSync(path.join(os.tmpdir(), 'lmsi-cli-finetune-'));
const lmsi = (...args: string[]) => runLmsi(args, root);

test('model check describes a Hugging Face folder, and refuses a broken one with file and field', async () => {
  const ok = await lmsi('model', 'check', hfModelDir('qwen3'));
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/Qwen3ForCausalLM \(qwen3\), [\d.]+M parameters, BF16/);
  expect(ok.stdout).toMatch(/fine-tuning\s+yes/);
  const json = await lmsi('model', 'check', hfModelDir('mistral'), '--json');
  expect(JSON.parse(json.stdout)).toMatchObject({ family: 'mistral', slidingWindow: 8 });

  const broken = path.join(work, 'broken');
  const { cpSync } = await import('node:fs');
  cpSync(hfModelDir('llama'), broken, { recursive: true });
  const config = JSON.parse(readFileSync(path.join(broken, 'config.json'), 'utf8'));
  writeFileSync(path.join(broken, 'config.json'), JSON.stringify({ ...config, model_type: 'phi3' }));
  const bad = await lmsi('model', 'check', broken);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain(
    `${path.join(broken, 'config.json')}: model_type: "phi3" is not supported; supported: llama`,
  );
});

test('finetune writes a drop-in model folder, and refuses bad data naming file and line', async () => {
  const data = path.join(work, 'train.jsonl');
  writeFileSync(
    data,
    [
      { prompt: 'Q: 2 + 3?\nA:', completion: ' 2 + 3 = 5. The answer is 5.' },
      { prompt: 'Q: 4 + 4?\nA:', completion: ' 4 + 4 = 8. The answer is 8.' },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n'),
  );
  const out = path.join(work, 'tuned');
  const run = await lmsi(
    'finetune',
    '--model',
    hfModelDir('qwen3'),
    '--data',
    data,
    '--out',
    out,
    '--steps',
    '2',
    '--learning-rate',
    '0.01',
    '--batch-size',
    '2',
    '--seq-len',
    '32',
    '--json',
  );
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ steps: 2, out, executionProvider: 'cpu' });
  expect(readdirSync(out).sort()).toEqual(
    readdirSync(hfModelDir('qwen3')).sort(), // the same files as the source, nothing of the run
  );
  for (const t of Object.values(readSafetensors(path.join(out, 'model.safetensors')).tensors))
    expect(t.dtype).toBe('BF16');
  expect(existsSync(`${out}.run`)).toBe(false);
  // The result samples as a model folder.
  const sample = await lmsi(
    'sample',
    '--model',
    out,
    '--prompt',
    'Q: 2 + 3?\nA:',
    '-n',
    '1',
    '--max-new-tokens',
    '4',
    '--json',
  );
  expect(sample.code).toBe(0);
  // As a campaign prompts it: a user turn rendered with the folder's chat template.
  const chat = await lmsi(
    'sample',
    '--model',
    out,
    '--prompt',
    'Q: 2 + 3?\nA:',
    '-n',
    '1',
    '--max-new-tokens',
    '4',
    '--chat-template',
    'auto',
    '--json',
  );
  expect(chat.code).toBe(0);
  expect(JSON.parse(chat.stdout)).toHaveLength(1);

  const bad = path.join(work, 'bad.jsonl');
  writeFileSync(bad, `${JSON.stringify({ prompt: 'a', completion: 'b' })}\n{"prompt": "no completion"}\n`);
  const refused = await lmsi(
    'finetune',
    '--model',
    hfModelDir('qwen3'),
    '--data',
    bad,
    '--out',
    path.join(work, 'x'),
    '--steps',
    '1',
  );
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`${bad}:2: completion:`);
  const usage = await lmsi(
    'finetune',
    '--model',
    hfModelDir('qwen3'),
    '--data',
    data,
    '--out',
    out,
    '--steps',
    '1',
  );
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('exists and is not empty');
});

test('finetune --execution-provider cuda: refused before any work where CUDA cannot load, or on the CPU with --allow-cpu-fallback', async () => {
  const reason = cudaUnavailableReason();
  const data = path.join(work, 'provider.jsonl');
  writeFileSync(data, `${JSON.stringify({ prompt: 'Q: 1 + 1?\nA:', completion: ' 2.' })}\n`);
  const args = (out: string) => [
    'finetune',
    '--model',
    hfModelDir('llama'),
    '--data',
    data,
    '--out',
    path.join(work, out),
    '--steps',
    '1',
    '--seq-len',
    '16',
    '--execution-provider',
    'cuda',
    '--json',
  ];
  const strict = await lmsi(...args('cuda-strict'));
  if (reason === null) {
    // A GPU machine with the provider installed: it trains there.
    expect(strict.code).toBe(0);
    expect(JSON.parse(strict.stdout)).toMatchObject({ executionProvider: 'cuda' });
    return;
  }
  expect(strict.code).toBe(1);
  expect(strict.stderr).toContain(`execution provider cuda is unavailable: ${reason}`);
  expect(existsSync(path.join(work, 'cuda-strict.run'))).toBe(false);
  const fallback = await lmsi(...args('cuda-fallback'), '--allow-cpu-fallback');
  expect(fallback.code).toBe(0);
  expect(JSON.parse(fallback.stdout)).toMatchObject({ executionProvider: 'cpu', cpuFallbackReason: reason });
});
