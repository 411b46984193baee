import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkModel } from '../../../engine/checkpoint';
import { isBadInputError } from '../../../base/errors';
import { hfFixtureNames, hfModelDir } from './fixtures';

/** The model check a campaign runs at import (and `lmsi model check`): what it reports, what it refuses. */

const ONNX_ONLY = path.resolve(
  __dirname,
  '../../../../shared/fixtures/onnx/ort-genai-tiny-random-LlamaForCausalLM-fp16',
);

function copy(name: string): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'lmsi-check-')), name);
  cpSync(hfModelDir(name), dir, { recursive: true });
  return dir;
}

function editJson(file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(j);
  writeFileSync(file, JSON.stringify(j));
}

function refused(fn: () => unknown): { file: string; field: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(isBadInputError(e)).toBe(true);
    return e as { file: string; field: string; message: string };
  }
  throw new Error('expected a BadInputError');
}

test.each(hfFixtureNames())('%s: checks out as a trainable model of its family', (name) => {
  const r = checkModel(hfModelDir(name), { training: true });
  const family = JSON.parse(readFileSync(path.join(hfModelDir(name), 'config.json'), 'utf8')).model_type;
  expect(r).toMatchObject({ family, trainable: true, onnx: null });
  expect(r.parameters).toBeGreaterThan(0);
  expect(r.weightFiles.length).toBeGreaterThan(0);
});

test('what the report says of a sharded BF16 Qwen3 and a Llama 3 with rope scaling', () => {
  expect(checkModel(hfModelDir('mistral'))).toMatchObject({ slidingWindow: 8, dtype: 'F32' });
  expect(checkModel(hfModelDir('mistral')).weightFiles).toHaveLength(3);
  expect(checkModel(hfModelDir('qwen3'))).toMatchObject({ dtype: 'BF16', headDim: 16 });
  expect(checkModel(hfModelDir('llama3-rope'))).toMatchObject({ ropeScaling: 'llama3 ×8' });
});

test('an architecture lmsi does not compute is refused by name, with the supported ones', () => {
  const dir = copy('llama');
  editJson(path.join(dir, 'config.json'), (j) => {
    j.model_type = 'gemma2';
    j.architectures = ['Gemma2ForCausalLM'];
  });
  const e = refused(() => checkModel(dir));
  expect({ file: e.file, field: e.field }).toEqual({
    file: path.join(dir, 'config.json'),
    field: 'model_type',
  });
  expect(e.message).toMatch(/"gemma2" is not supported; supported: llama .*mistral.*qwen2.*qwen3/);
});

test('a rope type lmsi does not compute is refused by name', () => {
  const dir = copy('llama-linear');
  editJson(path.join(dir, 'config.json'), (j) => {
    j.rope_scaling = { rope_type: 'longrope', factor: 2, short_factor: [1], long_factor: [1] };
  });
  const e = refused(() => checkModel(dir));
  expect(e.field).toBe('rope_scaling.rope_type');
  expect(e.message).toContain('"longrope" is not supported');
});

test('a missing or misshapen weight is named with its shard, before any weight is read', () => {
  const dir = copy('mistral');
  editJson(path.join(dir, 'config.json'), (j) => {
    j.intermediate_size = 96;
  });
  const e = refused(() => checkModel(dir));
  expect(e.message).toMatch(
    /model-0000\d-of-00003\.safetensors: model\.layers\.\d\.mlp\.\w+_proj\.weight: shape/,
  );
});

test('a tokenizer that does not fit the model is refused, naming tokenizer.json', () => {
  const dir = copy('llama');
  editJson(path.join(dir, 'tokenizer.json'), (j) => {
    const vocab = (j.model as { vocab: Record<string, number> }).vocab;
    let next = Math.max(...Object.values(vocab)) + 1;
    for (let i = 0; i < 50; i++) vocab[`extra-token-${i}`] = next++;
  });
  const e = refused(() => checkModel(dir));
  expect({ file: e.file, field: e.field }).toEqual({
    file: path.join(dir, 'tokenizer.json'),
    field: 'vocab',
  });
  expect(e.message).toContain('the tokenizer does not belong to this model');
});

test('a folder without weights or ONNX export is refused', () => {
  const dir = copy('llama');
  rmSync(path.join(dir, 'model.safetensors'));
  expect(refused(() => checkModel(dir, { training: false })).message).toMatch(/no safetensors weights/);
});

test('an ONNX export alone samples but cannot be a campaign base model', () => {
  expect(checkModel(ONNX_ONLY, { training: false })).toMatchObject({ trainable: false, onnx: 'model.onnx' });
  const e = refused(() => checkModel(ONNX_ONLY, { training: true }));
  expect(e.field).toBe('config.json');
});

test('a folder that is not there, or has no tokenizer', () => {
  expect(refused(() => checkModel('/nonexistent/model')).field).toBe('model.dir');
  const dir = copy('qwen2');
  rmSync(path.join(dir, 'tokenizer.json'));
  expect(refused(() => checkModel(dir)).file).toBe(path.join(dir, 'tokenizer.json'));
});
