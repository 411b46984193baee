import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { loadGenerationModel, type GenerationModel } from '../engine/generate';
import type { ArtifactStore } from '../store';
import type { ImportModelInput, ModelArtifact } from '../contract';
import type { ActivityDeps } from './deps';
import { failingClearly } from './failures';
import { checkModelFolder } from './model-check';

/**
 * Models travel between machines as tree artifacts (a checkpoint folder's files by ref). Accelerator
 * workers unpack each model once into their cache folder; the folder is complete or absent (unpacked
 * into a temp folder, then renamed), so a worker killed mid-unpack never leaves half a model.
 */
export async function localModelDir(store: ArtifactStore, cacheDir: string, ref: string): Promise<string> {
  const dir = path.join(cacheDir, 'models', ref.replace(/^sha256:/, ''));
  try {
    await fs.access(path.join(dir, '.complete'));
    return dir;
  } catch {
    // not unpacked yet
  }
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await store.materializeTree(ref, tmp);
  await fs.writeFile(path.join(tmp, '.complete'), ref);
  try {
    await fs.rename(tmp, dir);
  } catch (e) {
    // Another activity on this machine unpacked the same model first: theirs is as good as ours.
    await fs.rm(tmp, { recursive: true, force: true });
    if (!['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  }
  return dir;
}

/** A model artifact ready to sample from: unpacked into the worker's cache, session cached. */
export async function loadModelByRef(
  deps: ActivityDeps,
  input: { modelRef: string; executionProvider: 'cpu' | 'cuda'; allowCpuFallback: boolean },
): Promise<GenerationModel> {
  return loadGenerationModel(await localModelDir(deps.store, deps.cacheDir, input.modelRef), {
    provider: input.executionProvider,
    allowCpuFallback: input.allowCpuFallback,
    threads: deps.samplingThreads ?? deps.threads,
    // A folder without ONNX export samples through the engine's graph, built once per machine.
    graphCacheDir: path.join(deps.cacheDir, 'graphs'),
  });
}

/** Copies a model folder (the campaign's base model) into the store, checking that it is a model. */
export function makeImportModel({ store }: ActivityDeps) {
  return async function importModel(input: ImportModelInput): Promise<ModelArtifact> {
    return failingClearly(async () => {
      const dir = path.resolve(input.dir);
      await checkModelFolder(dir);
      const { ref } = await store.putTree(dir);
      const manifest = await store.getJson<{ files: Record<string, string> }>(ref);
      return { ref, files: Object.keys(manifest.files).length };
    });
  };
}
