/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CUDA_PROVIDER_LIBRARIES,
  ExecutionProviderUnavailableError,
  cudaUnavailableReason,
  findModelFile,
  loadGenerationModel,
  releaseSessions,
  generatePaths,
} from '../../../engine/generate';
import { onnxruntimeBinDir } from '../../../engine/generate/provider';
import { LLAMA_FP16 } from './fixture';

const tempDir = () => mkdtempSync(path.join(os.tmpdir(), 'lmsi-generate-'));

/** A model folder whose files are links to the fixture's, except those written over it. */
function folderLike(options: { onnxSubdir?: boolean; files?: Record<string, string> } = {}): string {
  const dir = tempDir();
  const modelDir = options.onnxSubdir ? path.join(dir, 'onnx') : dir;
  mkdirSync(modelDir, { recursive: true });
  for (const f of ['model.onnx', 'model.onnx.data'])
    symlinkSync(path.join(LLAMA_FP16, f), path.join(modelDir, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    if (!options.files?.[f]) symlinkSync(path.join(LLAMA_FP16, f), path.join(dir, f));
  for (const [f, text] of Object.entries(options.files ?? {})) writeFileSync(path.join(dir, f), text);
  return dir;
}

afterAll(() => releaseSessions());

describe('loading a model folder', () => {
  it('finds onnx/model.onnx (our checkpoints) or model.onnx (bare exports)', async () => {
    const nested = folderLike({ onnxSubdir: true });
    expect(findModelFile(nested)).toBe(path.join(nested, 'onnx', 'model.onnx'));
    expect(findModelFile(LLAMA_FP16)).toBe(path.join(LLAMA_FP16, 'model.onnx'));
    const m = await loadGenerationModel(nested, { threads: 1 });
    const [[c]] = await generatePaths(m, { prompts: ['Hi'], n: 1, temperature: 0, maxNewTokens: 3, seed: 0 });
    expect(c.tokenIds).toHaveLength(3);
    expect(() => findModelFile(tempDir())).toThrow(/no onnx\/model.onnx or model.onnx/);
  });

  it('rejects a tokenizer with more token ids than the model has logits, naming both and both files', async () => {
    const json = JSON.parse(readFileSync(path.join(LLAMA_FP16, 'tokenizer.json'), 'utf8')) as {
      added_tokens: object[];
    };
    for (let id = 32000; id < 32005; id++)
      json.added_tokens.push({
        id,
        content: `<extra_${id}>`,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      });
    const dir = folderLike({ files: { 'tokenizer.json': JSON.stringify(json) } });
    const err = await loadGenerationModel(dir).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.name).toBe('BadInputError');
    expect(err?.message).toContain(path.join(dir, 'tokenizer.json'));
    expect(err?.message).toContain(path.join(dir, 'model.onnx'));
    expect(err?.message).toMatch(/32005 token ids .* logits for 32000/);
  });

  it('reads config.json: eos ids join the tokenizer eos, position limit, malformed fields rejected', async () => {
    const dir = folderLike({
      files: {
        'config.json': JSON.stringify({ eos_token_id: [2, 7], max_position_embeddings: 64, extra: 'x' }),
      },
    });
    const m = await loadGenerationModel(dir);
    expect(m.eosIds).toEqual([2, 7]);
    expect(m.maxPositions).toBe(64);
    const bad = folderLike({ files: { 'config.json': JSON.stringify({ max_position_embeddings: -3 }) } });
    await expect(loadGenerationModel(bad)).rejects.toThrow(/config\.json: max_position_embeddings: /);
    const broken = folderLike({ files: { 'config.json': '{ not json' } });
    await expect(loadGenerationModel(broken)).rejects.toThrow(/config\.json: \(json\)/);
  });

  it('caches sessions per model file, provider and thread count', async () => {
    const a = await loadGenerationModel(LLAMA_FP16, { threads: 1 });
    const b = await loadGenerationModel(LLAMA_FP16, { threads: 1 });
    const c = await loadGenerationModel(LLAMA_FP16, { threads: 2 });
    expect(b.session).toBe(a.session);
    expect(c.session).not.toBe(a.session);
  });
});

describe('the CUDA execution provider', () => {
  it('says which provider library is missing and how to install it', () => {
    const empty = tempDir();
    expect(cudaUnavailableReason(empty)).toMatch(
      /libonnxruntime_providers_shared\.so is not in .*infra\/gpu\/install-cuda-ep/,
    );
  });

  it('names the CUDA libraries the dynamic loader cannot find', () => {
    // onnxruntime-node's binding is a real shared object that needs libonnxruntime.so.1 from its own
    // folder: copied elsewhere as the provider library, that dependency is unresolved.
    const dir = tempDir();
    copyFileSync(
      path.join(onnxruntimeBinDir(), 'onnxruntime_binding.node'),
      path.join(dir, CUDA_PROVIDER_LIBRARIES[1]),
    );
    writeFileSync(path.join(dir, CUDA_PROVIDER_LIBRARIES[0]), '');
    expect(cudaUnavailableReason(dir)).toMatch(
      /needs libonnxruntime\.so\.1, which the dynamic loader cannot find/,
    );
    symlinkSync(path.join(onnxruntimeBinDir(), 'libonnxruntime.so.1'), path.join(dir, 'libonnxruntime.so.1'));
    expect(cudaUnavailableReason(dir)).toBeNull();
  });

  it('fails with that reason, or falls back to cpu when the caller allows it', async () => {
    const reason = cudaUnavailableReason();
    if (reason === null) {
      // A machine with the CUDA provider installed: the session really runs on it.
      const m = await loadGenerationModel(LLAMA_FP16, { provider: 'cuda' });
      expect(m.provider).toBe('cuda');
      return;
    }
    const err = await loadGenerationModel(LLAMA_FP16, { provider: 'cuda' }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(ExecutionProviderUnavailableError);
    expect(err?.message).toContain(reason);
    const m = await loadGenerationModel(LLAMA_FP16, { provider: 'cuda', allowCpuFallback: true });
    expect(m.provider).toBe('cpu');
    expect(m.fallbackReason).toBe(reason);
  });
});
