import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCheckpoint, readSafetensors } from '../../../engine/checkpoint';
import { releaseSessions } from '../../../engine/generate';
import { fineTune } from '../../../engine/train';
import { hfModelDir } from './fixtures';

/**
 * A model lmsi fine-tuned from a user's Hugging Face folder is a drop-in replacement for it: the same
 * config.json and tokenizer files byte for byte, the same tensor names in the source's dtype, the
 * source's other files, and no ONNX export the source did not have. (transformers' from_pretrained
 * on such folders is checked by tests/fixtures/hf-models/check-export.sh; its results are in
 * export-check.json there.)
 */

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'lmsi-hf-export-'));
const examples = [
  {
    prompt: 'Q: Tom has 3 apples and buys 4 more. How many?\nA:',
    completion: ' 3 + 4 = 7. The answer is 7.',
  },
  { prompt: 'Q: 6 pens in a box. How many in 2 boxes?\nA:', completion: ' 6 * 2 = 12. The answer is 12.' },
];

afterAll(() => releaseSessions());

test.each(['qwen3', 'mistral'])(
  '%s: the fine-tuned folder keeps config, tokenizer, names, dtype and files',
  async (name) => {
    const source = hfModelDir(name);
    const outDir = tmp();
    const result = await fineTune({
      from: source,
      outDir,
      examples,
      config: {
        steps: 2,
        learningRate: 1e-2,
        batchSize: 2,
        seed: 1,
        checkpointEvery: 1,
        keepCheckpoints: 5,
        seqLen: 48,
      },
    });
    const out = result.checkpointDir;
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
      expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(source, f)))).toBe(true);
    const sourceFiles = readdirSync(source).filter((f) => !/safetensors/.test(f));
    for (const f of sourceFiles) expect(existsSync(path.join(out, f))).toBe(true);
    expect(existsSync(path.join(out, 'onnx'))).toBe(false);

    const src = loadCheckpoint(source);
    const { tensors } = readSafetensors(path.join(out, 'model.safetensors'));
    expect(Object.keys(tensors).sort()).toEqual([...src.params.keys()].sort());
    for (const t of Object.values(tensors)) expect(t.dtype).toBe(src.dtype);
    // It trained: the weights moved.
    const moved = loadCheckpoint(out).params.get('model.norm.weight')!;
    expect(moved).not.toEqual(src.params.get('model.norm.weight'));

    // The checkpoint a run resumes from holds its weights exactly (float32), only the final one is rounded.
    const first = path.join(outDir, 'checkpoint-1');
    for (const t of Object.values(readSafetensors(path.join(first, 'model.safetensors')).tensors))
      expect(t.dtype).toBe('F32');
  },
);
