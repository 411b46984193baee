import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BadInputError } from '../../method/errors';
import { halvesToFloats } from '../generate/fp16';
import type { LlamaConfig } from '../model/config';
import { buildInferenceGraph } from '../model/inference-graph';
import { type Params, paramSpecs } from '../model/params';
import { serialize } from '../onnx/serialize';
import type { TokenizerFiles } from '../tokenizer/char-tokenizer';
import { loadTokenizer } from '../tokenizer/load';
import { replaceDirAtomically, writeDurable } from './atomic';
import { parseConfigJson, toConfigJson } from './model-config';
import { type NamedTensor, encodeSafetensors, readSafetensors } from './safetensors';
import { type TrainerState, TrainerStateSchema } from './trainer-state';

/** The files of a checkpoint folder (Hugging Face layout; the ONNX export where Optimum puts it). */
export const CHECKPOINT_FILES = {
  config: 'config.json',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  weights: 'model.safetensors',
  onnx: path.join('onnx', 'model.onnx'),
  onnxData: 'model.onnx_data',
  optimizer: 'optimizer.safetensors',
  trainerState: 'trainer_state.json',
} as const;

/** AdamW's moments per parameter (PyTorch's exp_avg / exp_avg_sq). */
export interface OptimizerState {
  expAvg: Params;
  expAvgSq: Params;
}

export interface Checkpoint {
  config: LlamaConfig;
  params: Params;
  tokenizer: TokenizerFiles;
  /** Optimiser state and trainer state: present together in a checkpoint a run can resume from. */
  optimizer?: OptimizerState;
  trainerState?: TrainerState;
}

/** Above this many weight bytes the ONNX export keeps its weights in onnx/model.onnx_data (protobuf's 2 GiB limit). */
const EXTERNAL_DATA_BYTES = 1 << 30;

const optimizerName = {
  expAvg: (p: string) => `exp_avg.${p}`,
  expAvgSq: (p: string) => `exp_avg_sq.${p}`,
};

function f32Tensors(
  c: LlamaConfig,
  params: Params,
  name: (p: string) => string,
): Record<string, NamedTensor> {
  const out: Record<string, NamedTensor> = {};
  for (const s of paramSpecs(c)) {
    const data = params.get(s.name);
    if (!data) throw new Error(`saveCheckpoint: missing tensor ${s.name}`);
    out[name(s.name)] = { dtype: 'F32', shape: [...s.shape], data };
  }
  return out;
}

/**
 * Writes a checkpoint folder atomically (a temporary folder renamed into place): config.json,
 * tokenizer.json, tokenizer_config.json, model.safetensors, onnx/model.onnx (the inference graph
 * with the weights inside), and optimizer.safetensors + trainer_state.json when given.
 */
export function saveCheckpoint(dir: string, ckpt: Checkpoint): void {
  if (!ckpt.optimizer !== !ckpt.trainerState)
    throw new Error('saveCheckpoint: optimizer state and trainer state go together (both or neither)');
  const { config: c, params } = ckpt;
  const weights = f32Tensors(c, params, (p) => p);
  replaceDirAtomically(dir, (tmp) => {
    const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
    writeDurable(path.join(tmp, CHECKPOINT_FILES.tokenizer), json(ckpt.tokenizer.tokenizerJson));
    writeDurable(path.join(tmp, CHECKPOINT_FILES.tokenizerConfig), json(ckpt.tokenizer.tokenizerConfig));
    const tok = loadTokenizer(tmp);
    if (tok.vocabSize > c.vocabSize)
      throw new Error(
        `saveCheckpoint: the tokenizer has ${tok.vocabSize} token ids but the model's vocabulary is ${c.vocabSize}`,
      );
    const ids = { bos: tok.bosId, eos: tok.eosId, pad: tok.padId };
    writeDurable(path.join(tmp, CHECKPOINT_FILES.config), json(toConfigJson(c, ids)));
    writeDurable(path.join(tmp, CHECKPOINT_FILES.weights), encodeSafetensors(weights, { format: 'pt' }));

    const weightBytes = Object.values(weights).reduce((a, t) => a + t.data.byteLength, 0);
    const onnx = serialize(buildInferenceGraph(c, params), {
      externalThresholdBytes: weightBytes > EXTERNAL_DATA_BYTES ? 1024 : Infinity,
      externalLocation: CHECKPOINT_FILES.onnxData,
    });
    mkdirSync(path.join(tmp, 'onnx'));
    writeDurable(path.join(tmp, CHECKPOINT_FILES.onnx), onnx.model);
    if (onnx.externalData) writeDurable(path.join(tmp, 'onnx', CHECKPOINT_FILES.onnxData), onnx.externalData);

    if (ckpt.optimizer && ckpt.trainerState) {
      const moments = {
        ...f32Tensors(c, ckpt.optimizer.expAvg, optimizerName.expAvg),
        ...f32Tensors(c, ckpt.optimizer.expAvgSq, optimizerName.expAvgSq),
      };
      writeDurable(path.join(tmp, CHECKPOINT_FILES.optimizer), encodeSafetensors(moments));
      writeDurable(
        path.join(tmp, CHECKPOINT_FILES.trainerState),
        json(TrainerStateSchema.parse(ckpt.trainerState)),
      );
    }
  });
}

function readJsonFile(file: string): unknown {
  if (!existsSync(file)) throw new BadInputError(file, null, '(file)', 'not found');
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BadInputError(file, null, '(json)', (e as Error).message);
  }
}

function toFloat32(t: NamedTensor, file: string, name: string): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return t.data as Float32Array;
    case 'F16':
      return halvesToFloats(t.data as Uint16Array, new Float32Array(t.data.length));
    case 'BF16':
      // bfloat16 is the upper half of a float32.
      return new Float32Array(Uint32Array.from(t.data as Uint16Array, (h) => h << 16).buffer);
    default:
      throw new BadInputError(file, null, name, `dtype ${t.dtype} is not a float type`);
  }
}

/** Tensors a Llama checkpoint may carry that our model does not use. */
function ignorable(name: string, c: LlamaConfig): boolean {
  return name.endsWith('.rotary_emb.inv_freq') || (c.tieEmbeddings && name === 'lm_head.weight');
}

/**
 * Reads `file`'s tensors named `name(p)` for every parameter p and every naming in `names`, checking
 * dtype and shape against the config; any other tensor in the file is an error.
 */
function readParams(
  file: string,
  c: LlamaConfig,
  names: readonly ((p: string) => string)[],
  floatsOnly: boolean,
): Params[] {
  if (!existsSync(file)) throw new BadInputError(file, null, '(file)', 'not found');
  const { tensors } = readSafetensors(file);
  const expected = new Set<string>();
  const out = names.map((name) => {
    const params: Params = new Map();
    for (const s of paramSpecs(c)) {
      const key = name(s.name);
      expected.add(key);
      const t = tensors[key];
      if (!t) throw new BadInputError(file, null, key, 'missing');
      if (t.shape.join(',') !== s.shape.join(','))
        throw new BadInputError(file, null, key, `shape [${t.shape}] but config.json needs [${s.shape}]`);
      if (floatsOnly && t.dtype !== 'F32')
        throw new BadInputError(file, null, key, `dtype ${t.dtype}, expected F32`);
      params.set(s.name, toFloat32(t, file, key));
    }
    return params;
  });
  for (const key of Object.keys(tensors))
    if (!expected.has(key) && !ignorable(key, c))
      throw new BadInputError(file, null, key, 'not a parameter of this model (config.json)');
  return out;
}

/**
 * Reads and validates a checkpoint folder. The model config comes from its config.json alone, and
 * every tensor's shape is checked against it, so a resumed run always has the shapes it was saved
 * with. Bad files throw BadInputError naming the file and field.
 */
export function loadCheckpoint(dir: string): Checkpoint {
  const file = (f: string) => path.join(dir, f);
  const config = parseConfigJson(readJsonFile(file(CHECKPOINT_FILES.config)), file(CHECKPOINT_FILES.config));
  const tokenizerJson = readJsonFile(file(CHECKPOINT_FILES.tokenizer)) as Record<string, unknown>;
  const tokenizerConfig = (
    existsSync(file(CHECKPOINT_FILES.tokenizerConfig))
      ? readJsonFile(file(CHECKPOINT_FILES.tokenizerConfig))
      : {}
  ) as Record<string, unknown>;
  const [params] = readParams(file(CHECKPOINT_FILES.weights), config, [(p) => p], false);
  const ckpt: Checkpoint = { config, params, tokenizer: { tokenizerJson, tokenizerConfig } };

  const stateFile = file(CHECKPOINT_FILES.trainerState);
  const optimizerFile = file(CHECKPOINT_FILES.optimizer);
  if (existsSync(stateFile) || existsSync(optimizerFile)) {
    const parsed = TrainerStateSchema.safeParse(readJsonFile(stateFile));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new BadInputError(stateFile, null, issue.path.join('.') || '(root)', issue.message);
    }
    ckpt.trainerState = parsed.data;
    const [expAvg, expAvgSq] = readParams(
      optimizerFile,
      config,
      [optimizerName.expAvg, optimizerName.expAvgSq],
      true,
    );
    ckpt.optimizer = { expAvg, expAvgSq };
  }
  return ckpt;
}
