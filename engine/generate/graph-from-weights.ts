import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { replaceDirAtomically, writeDurable } from '../checkpoint/atomic';
import { CHECKPOINT_FILES, loadCheckpoint } from '../checkpoint/checkpoint';
import { weightFiles } from '../checkpoint/weights';
import { buildInferenceGraph } from '../model/inference-graph';
import { paramSpecs } from '../model/params';
import { serialize } from '../onnx/serialize';

/** Where graphs built from weights are kept when the caller names no folder. */
export const DEFAULT_GRAPH_CACHE = path.join(os.tmpdir(), 'lmsi-graphs');

/**
 * The ONNX decoder of a Hugging Face folder that has safetensors weights and no ONNX export: the
 * engine's own inference graph (Optimum convention) built from config.json and the weights, written
 * once into `cacheDir` under a key of the folder's real path and its files' sizes and mtimes, so a
 * model is built once per machine and a rewritten one is built afresh. The user's folder is never
 * written to. The weights go to an external data file beside it (onnx/model.onnx_data: no 2 GiB
 * protobuf limit), which the sampler's decode-steps graph refers to instead of holding a second copy
 * of the weights on disk or building one in memory; only a model of at most `externalAboveBytes`
 * weight bytes keeps them inline.
 */
export function graphFromWeights(
  dir: string,
  cacheDir = DEFAULT_GRAPH_CACHE,
  externalAboveBytes = 0,
): string {
  const sources = [path.join(dir, CHECKPOINT_FILES.config), ...weightFiles(dir).files];
  const hash = createHash('sha256');
  for (const f of sources) {
    const real = realpathSync(f);
    const st = statSync(real);
    hash.update(`${real}|${st.size}|${st.mtimeMs}\n`);
  }
  const out = path.join(cacheDir, hash.digest('hex').slice(0, 32));
  const modelFile = path.join(out, CHECKPOINT_FILES.onnx);
  if (existsSync(modelFile)) return modelFile;
  const ckpt = loadCheckpoint(dir, { weightsOnly: true });
  const weightBytes = paramSpecs(ckpt.config).reduce((a, s) => a + ckpt.params.get(s.name)!.byteLength, 0);
  const onnx = serialize(buildInferenceGraph(ckpt.config, ckpt.params), {
    externalThresholdBytes: weightBytes > externalAboveBytes ? 1024 : Infinity,
    externalLocation: CHECKPOINT_FILES.onnxData,
  });
  mkdirSync(cacheDir, { recursive: true });
  replaceDirAtomically(out, (tmp) => {
    mkdirSync(path.join(tmp, 'onnx'));
    writeDurable(path.join(tmp, CHECKPOINT_FILES.onnx), onnx.model);
    if (onnx.externalData) writeDurable(path.join(tmp, 'onnx', CHECKPOINT_FILES.onnxData), onnx.externalData);
  });
  return modelFile;
}
