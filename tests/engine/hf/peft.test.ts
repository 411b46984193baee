import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../../../engine/checkpoint';
import { readAdapter } from '../../../engine/checkpoint/adapter';
import { buildInferenceGraph, mergeLora } from '../../../engine/model';
import { toBytes } from '../../../engine/onnx/serialize';
import { isBadInputError } from '../../../base/errors';
import { HF_MODELS, hfModelDir, maxAbsDiff } from './fixtures';

/**
 * An adapter written by PEFT (tests/fixtures/hf-models/make_peft_fixture.py: every projection of the
 * qwen2 fixture, rank 4, random A and B) loads in lmsi and, merged, gives PEFT's logits. The other
 * direction (PEFT loads lmsi's adapters) is check-export.sh's; its results are in export-check.json.
 */

const ADAPTER = path.join(HF_MODELS, 'peft', 'qwen2-lora');
const expected = JSON.parse(
  readFileSync(path.join(HF_MODELS, 'peft', 'qwen2-lora.expected.json'), 'utf8'),
) as {
  cases: { input_ids: number[]; logits: number[][] }[];
};

test("PEFT's adapter, read and merged by lmsi, gives PEFT's logits", async () => {
  const base = loadCheckpoint(hfModelDir('qwen2'));
  const { lora, params } = readAdapter(ADAPTER, base.config);
  expect(lora).toEqual({
    rank: 4,
    alpha: 8,
    dropout: 0,
    targetModules: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
  });
  const merged = mergeLora(base.config, lora, base.params, params);
  const session = await ort.InferenceSession.create(toBytes(buildInferenceGraph(base.config, merged)));
  for (const c of expected.cases) {
    const n = c.input_ids.length;
    const int64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, v.length]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(c.input_ids),
      attention_mask: int64(new Array<number>(n).fill(1)),
      position_ids: int64(c.input_ids.map((_, i) => i)),
    };
    for (let i = 0; i < base.config.nLayers; i++)
      for (const kv of ['key', 'value'])
        feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [
          1,
          base.config.nKvHeads,
          0,
          8,
        ]);
    const logits = (await session.run(feeds)).logits.data as Float32Array;
    expect(maxAbsDiff(logits, c.logits.flat())).toBeLessThanOrEqual(1e-4);
  }
});

test('an adapter for another shape, or with options lmsi does not compute, is refused naming the field', () => {
  const refused = (fn: () => unknown): Error => {
    try {
      fn();
    } catch (e) {
      expect(isBadInputError(e)).toBe(true);
      return e as Error;
    }
    throw new Error('expected a BadInputError');
  };
  // qwen3's head_dim 16 makes q_proj 64 wide: the adapter's B has the other shape.
  const qwen3 = loadCheckpoint(hfModelDir('qwen3'));
  const err = refused(() => readAdapter(ADAPTER, qwen3.config));
  expect(err.message).toMatch(
    /adapter_model\.safetensors: base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_[AB]\.weight: shape/,
  );
  const dora = path.join(mkdtempSync(path.join(os.tmpdir(), 'lmsi-peft-')), 'dora');
  cpSync(ADAPTER, dora, { recursive: true });
  const config = JSON.parse(readFileSync(path.join(dora, 'adapter_config.json'), 'utf8'));
  writeFileSync(path.join(dora, 'adapter_config.json'), JSON.stringify({ ...config, use_dora: true }));
  const base = loadCheckpoint(hfModelDir('qwen2'));
  expect(refused(() => readAdapter(dora, base.config)).message).toContain('adapter_config.json: use_dora:');
});
