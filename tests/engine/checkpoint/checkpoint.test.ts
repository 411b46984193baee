import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  CHECKPOINT_FILES,
  type TrainerState,
  createBaseModel,
  encodeSafetensors,
  loadCheckpoint,
  readSafetensors,
  replaceDirAtomically,
  saveCheckpoint,
} from '../../../engine/checkpoint';
import { loadGenerationModel, releaseSessions, generatePaths } from '../../../engine/generate';
import { LlamaConfig, initParams, paramSpecs } from '../../../engine/model';
import { buildCharTokenizerFiles } from '../../../engine/tokenizer';
import { isBadInputError } from '../../../base/errors';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'lmsi-ckpt-'));
const config = LlamaConfig.parse({
  vocabSize: 96,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  dFF: 48,
  maxSeqLen: 64,
});

function expectBadInput(fn: () => unknown, file: string, field: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(isBadInputError(caught)).toBe(true);
  const e = caught as { file: string; field: string; message: string };
  expect({ file: path.basename(e.file), field: e.field }).toEqual({ file, field });
}

const state = (over: Partial<TrainerState> = {}): TrainerState => ({
  format: 'lmsi-trainer-state/1',
  global_step: 3,
  max_steps: 10,
  epoch: 1,
  step_in_epoch: 1,
  seed: 7,
  finished: false,
  tokens_seen: 1234,
  train_seconds: 1.5,
  data_fingerprint: 'a'.repeat(64),
  args: { learningRate: 0.001 },
  log_history: [{ step: 1, loss: 4.5, learning_rate: 0.001, grad_norm: 2 }],
  eval_history: [{ step: 0, eval_loss: 4.6 }],
  ...over,
});

afterAll(() => releaseSessions());

describe('checkpoints', () => {
  let base: string;
  beforeAll(() => {
    base = createBaseModel({ config, seed: 11, dir: path.join(tmp(), 'base') });
  });

  test('createBaseModel writes a Hugging Face-style folder with our config and the HF Llama fields', () => {
    for (const f of Object.values(CHECKPOINT_FILES).filter((f) => f.endsWith('.json') || f.endsWith('.onnx')))
      if (f !== CHECKPOINT_FILES.trainerState) expect(existsSync(path.join(base, f))).toBe(true);
    expect(existsSync(path.join(base, CHECKPOINT_FILES.weights))).toBe(true);
    expect(existsSync(path.join(base, CHECKPOINT_FILES.optimizer))).toBe(false);
    const json = JSON.parse(readFileSync(path.join(base, 'config.json'), 'utf8'));
    expect(json).toMatchObject({
      ...config,
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      intermediate_size: 48,
      vocab_size: 96,
      max_position_embeddings: 64,
      rope_theta: 10000,
      rms_norm_eps: 1e-5,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
    });
    // Every field of our config is written, defaults included (headDim has none: absent, it is
    // hidden / heads, which head_dim states).
    for (const key of Object.keys(LlamaConfig.shape)) if (key !== 'headDim') expect(json).toHaveProperty(key);
    const { tensors, metadata } = readSafetensors(path.join(base, 'model.safetensors'));
    expect(metadata).toEqual({ format: 'pt' });
    expect(Object.keys(tensors).sort()).toEqual(
      paramSpecs(config)
        .map((s) => s.name)
        .sort(),
    );
    expect(tensors['model.layers.1.mlp.down_proj.weight'].shape).toEqual([32, 48]);
  });

  test('load returns the saved config and weights; optimizer and trainer state round-trip', () => {
    const loaded = loadCheckpoint(base);
    expect(loaded.config).toEqual(config);
    const init = initParams(config, 11);
    for (const [name, data] of init) expect(loaded.params.get(name)).toEqual(data);
    expect(loaded.optimizer).toBeUndefined();
    expect(loaded.tokenizer).toEqual(buildCharTokenizerFiles());

    const dir = path.join(tmp(), 'with-state');
    const expAvg = initParams(config, 1);
    const expAvgSq = initParams(config, 2);
    saveCheckpoint(dir, { ...loaded, optimizer: { expAvg, expAvgSq }, trainerState: state() });
    const again = loadCheckpoint(dir);
    expect(again.trainerState).toEqual(state());
    expect(again.optimizer!.expAvg).toEqual(expAvg);
    expect(again.optimizer!.expAvgSq).toEqual(expAvgSq);
  });

  test('onnx/model.onnx runs in a plain onnxruntime-node session, and in the sampler', async () => {
    const session = await ort.InferenceSession.create(path.join(base, 'onnx', 'model.onnx'));
    const ids = [1, 20, 21, 22];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, 4]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n, 1n]), [1, 4]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 3n]), [1, 4]),
    };
    for (let i = 0; i < 2; i++)
      for (const kv of ['key', 'value'])
        feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 8]);
    const out = await session.run(feeds);
    expect(out.logits.dims).toEqual([1, 4, 96]);
    expect((out.logits.data as Float32Array).every(Number.isFinite)).toBe(true);
    expect(out['present.1.value'].dims).toEqual([1, 2, 4, 8]);
    await session.release();

    const model = await loadGenerationModel(base, { threads: 2 });
    expect(model.maxPositions).toBe(64);
    const [[c]] = await generatePaths(model, {
      prompts: ['abc'],
      n: 1,
      temperature: 0,
      maxNewTokens: 5,
      seed: 1,
    });
    expect(c.tokenIds.length).toBeGreaterThan(0);
  });

  test('a Hugging Face config.json without our fields reads the same; a disagreeing edit is refused', () => {
    const dir = path.join(tmp(), 'hf');
    saveCheckpoint(dir, loadCheckpoint(base));
    const file = path.join(dir, 'config.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    const hfOnly = Object.fromEntries(Object.entries(json).filter(([k]) => !(k in LlamaConfig.shape)));
    writeFileSync(file, JSON.stringify(hfOnly));
    expect(loadCheckpoint(dir).config).toEqual(config);
    writeFileSync(file, JSON.stringify({ ...json, hidden_size: 64 }));
    expectBadInput(() => loadCheckpoint(dir), 'config.json', 'dModel');
    writeFileSync(file, JSON.stringify({ ...json, nHeads: 3 }));
    expectBadInput(() => loadCheckpoint(dir), 'config.json', 'nHeads');
    writeFileSync(file, '{"model_type": "llama",');
    expectBadInput(() => loadCheckpoint(dir), 'config.json', '(json)');
  });

  test('bad weights, optimizer and trainer state files name the file and field', () => {
    const dir = path.join(tmp(), 'bad');
    const good = loadCheckpoint(base);
    const write = () =>
      saveCheckpoint(dir, {
        ...good,
        optimizer: { expAvg: good.params, expAvgSq: good.params },
        trainerState: state(),
      });
    write();
    const weights = path.join(dir, 'model.safetensors');
    const { tensors } = readSafetensors(weights);
    const q = 'model.layers.0.self_attn.q_proj.weight';
    writeFileSync(weights, encodeSafetensors({ ...tensors, [q]: { ...tensors[q], shape: [16, 64] } }));
    expectBadInput(() => loadCheckpoint(dir), 'model.safetensors', q);
    writeFileSync(weights, encodeSafetensors({ ...tensors, 'model.extra.weight': tensors[q] }));
    expectBadInput(() => loadCheckpoint(dir), 'model.safetensors', 'model.extra.weight');
    const { [q]: _dropped, ...rest } = tensors;
    writeFileSync(weights, encodeSafetensors(rest));
    expectBadInput(() => loadCheckpoint(dir), 'model.safetensors', q);

    write();
    const stateFile = path.join(dir, 'trainer_state.json');
    writeFileSync(stateFile, JSON.stringify({ ...state(), global_step: -1 }));
    expectBadInput(() => loadCheckpoint(dir), 'trainer_state.json', 'global_step');
    writeFileSync(stateFile, JSON.stringify({ ...state(), log_history: [{ step: 1, loss: 'x' }] }));
    expectBadInput(() => loadCheckpoint(dir), 'trainer_state.json', 'log_history.0.loss');

    write();
    const opt = path.join(dir, 'optimizer.safetensors');
    const moments = readSafetensors(opt).tensors;
    const key = `exp_avg_sq.${q}`;
    writeFileSync(
      opt,
      encodeSafetensors({
        ...moments,
        [key]: { ...moments[key], dtype: 'F64', data: new Float64Array(32 * 32) },
      }),
    );
    expectBadInput(() => loadCheckpoint(dir), 'optimizer.safetensors', key);
  });

  test('saving is atomic: a failed save leaves the old folder whole and no temporary folders', () => {
    const parent = tmp();
    const dir = path.join(parent, 'ckpt');
    saveCheckpoint(dir, loadCheckpoint(base));
    const before = readFileSync(path.join(dir, 'model.safetensors'));
    const broken = loadCheckpoint(base);
    broken.params.delete('model.norm.weight');
    expect(() => saveCheckpoint(dir, broken)).toThrow('missing tensor model.norm.weight');
    expect(() =>
      replaceDirAtomically(dir, (t) => {
        writeFileSync(path.join(t, 'half'), 'x');
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    expect(readFileSync(path.join(dir, 'model.safetensors')).equals(before)).toBe(true);
    expect(readdirSync(parent)).toEqual(['ckpt']);
    // Replacing an existing folder leaves only the new contents.
    replaceDirAtomically(dir, (t) => writeFileSync(path.join(t, 'only'), 'y'));
    expect(readdirSync(dir)).toEqual(['only']);
    expect(readdirSync(parent)).toEqual(['ckpt']);
  });
});
