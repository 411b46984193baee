import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { BadInputError } from '../../base/errors';
import type { LlamaConfig } from '../model/config';
import { buildInferenceGraph } from '../model/inference-graph';
import type { LoraConfig } from '../model/lora';
import { type ParamSpec, type Params, paramSpecs } from '../model/params';
import { trainableSpecs } from '../model/training-graph';
import { ADAPTER_CONFIG, ADAPTER_DIR, encodeAdapter, readAdapter } from './adapter';
import { serialize } from '../onnx/serialize';
import type { TokenizerFiles } from '../tokenizer/char-tokenizer';
import { loadTokenizer } from '../tokenizer/load';
import { replaceDirAtomically, writeDurable } from './atomic';
import { parseConfigJson, toConfigJson } from './model-config';
import { type DeferredTensor, type NamedTensor, readSafetensors, safetensorsPieces } from './safetensors';
import {
  WEIGHTS_INDEX_FILE,
  type WeightsDtype,
  dtypeFromTorchName,
  encodeWeights,
  fromFloat32,
  readWeights,
  toFloat32,
} from './weights';
import { TrainerState } from './trainer-state';

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
  /**
   * The config.json, tokenizer.json and tokenizer_config.json a Hugging Face checkpoint came with,
   * byte for byte, written back unchanged so a fine-tuned model is a drop-in replacement for the
   * folder it came from. Absent: one of ours (config.json from toConfigJson).
   */
  sourceFiles?: Record<string, Buffer>;
  /** The dtype the weights are written in (default F32): the source's, as config.json states it. */
  dtype?: WeightsDtype;
  /**
   * Other files of the source folder that travel with the model (generation_config.json,
   * special_tokens_map.json, chat_template.jinja, ...), by file name.
   */
  extraFiles?: Record<string, Buffer>;
  /** Write onnx/model.onnx (default true; a folder that came without one is written without one). */
  onnx?: boolean;
  /**
   * LoRA adapters, written in PEFT's layout to `adapter/`; the optimiser state is then theirs.
   * `params` are the model's weights as the folder holds them (the base while training, merged at
   * the end).
   */
  lora?: { config: LoraConfig; adapters: Params };
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

function tensorsOf(
  c: LlamaConfig,
  params: Params,
  name: (p: string) => string,
  dtype: WeightsDtype,
  specs: readonly ParamSpec[] = paramSpecs(c),
): Record<string, NamedTensor | DeferredTensor> {
  const out: Record<string, NamedTensor | DeferredTensor> = {};
  for (const s of specs) {
    const data = params.get(s.name);
    if (!data) throw new Error(`saveCheckpoint: missing tensor ${s.name}`);
    // float32 is written from the array itself; another dtype is converted as the writer reaches it.
    const shape = [...s.shape];
    out[name(s.name)] =
      dtype === 'F32' ? { dtype, shape, data } : { dtype, shape, data: () => fromFloat32(data, dtype) };
  }
  return out;
}

/** Files of a model folder that a checkpoint writes itself, or that are weights in other formats. */
function managedFile(name: string): boolean {
  return (
    Object.values(CHECKPOINT_FILES).includes(name) ||
    /\.(safetensors|bin|pt|pth|onnx|onnx_data|h5|msgpack|gguf)$/.test(name) ||
    name.endsWith('.index.json') ||
    name.startsWith('.')
  );
}

const EXTRA_FILE_LIMIT = 64 * 1024 * 1024;

/** The small files of a source folder that a written checkpoint keeps (see Checkpoint.extraFiles). */
function readExtraFiles(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() || managedFile(entry.name)) continue;
    const file = path.join(dir, entry.name);
    if (statSync(file).size <= EXTRA_FILE_LIMIT) out[entry.name] = readFileSync(file);
  }
  return out;
}

export interface SaveOptions {
  /**
   * Write the weights as float32 whatever the checkpoint's dtype: a checkpoint a run resumes from
   * must hold its weights exactly (only the final model goes back to the source's dtype).
   */
  exactWeights?: boolean;
  /** Shard the weights past this many bytes (Hugging Face's default 5 GB). */
  maxShardBytes?: number;
}

/**
 * Writes a checkpoint folder atomically (a temporary folder renamed into place): config.json,
 * tokenizer.json, tokenizer_config.json, the weights (model.safetensors, or shards and their index)
 * in the checkpoint's dtype, onnx/model.onnx (the inference graph with float32 weights inside)
 * unless the checkpoint says not, the source's other small files, and optimizer.safetensors +
 * trainer_state.json when given.
 */
export function saveCheckpoint(dir: string, ckpt: Checkpoint, opts: SaveOptions = {}): void {
  if (!ckpt.optimizer !== !ckpt.trainerState)
    throw new Error('saveCheckpoint: optimizer state and trainer state go together (both or neither)');
  const { config: c, params } = ckpt;
  const dtype = opts.exactWeights ? 'F32' : (ckpt.dtype ?? 'F32');
  const weights = tensorsOf(c, params, (p) => p, dtype);
  replaceDirAtomically(dir, (tmp) => {
    const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
    for (const [name, bytes] of Object.entries(ckpt.extraFiles ?? {}))
      if (!managedFile(name)) writeDurable(path.join(tmp, name), bytes);
    writeDurable(path.join(tmp, CHECKPOINT_FILES.tokenizer), json(ckpt.tokenizer.tokenizerJson));
    writeDurable(path.join(tmp, CHECKPOINT_FILES.tokenizerConfig), json(ckpt.tokenizer.tokenizerConfig));
    const tok = loadTokenizer(tmp);
    if (tok.vocabSize > c.vocabSize)
      throw new Error(
        `saveCheckpoint: the tokenizer has ${tok.vocabSize} token ids but the model's vocabulary is ${c.vocabSize}`,
      );
    writeDurable(
      path.join(tmp, CHECKPOINT_FILES.config),
      json(toConfigJson(c, { bos: tok.bosId, eos: tok.eosId, pad: tok.padId })),
    );
    for (const [name, bytes] of Object.entries(ckpt.sourceFiles ?? {}))
      writeDurable(path.join(tmp, name), bytes);
    for (const [name, bytes] of encodeWeights(weights, opts.maxShardBytes))
      writeDurable(path.join(tmp, name), bytes);

    if (ckpt.onnx ?? true) {
      const weightBytes = paramSpecs(c).reduce((a, s) => a + params.get(s.name)!.byteLength, 0);
      const onnx = serialize(buildInferenceGraph(c, params), {
        externalThresholdBytes: weightBytes > EXTERNAL_DATA_BYTES ? 1024 : Infinity,
        externalLocation: CHECKPOINT_FILES.onnxData,
      });
      mkdirSync(path.join(tmp, 'onnx'));
      writeDurable(path.join(tmp, CHECKPOINT_FILES.onnx), onnx.model);
      if (onnx.externalData)
        writeDurable(path.join(tmp, 'onnx', CHECKPOINT_FILES.onnxData), onnx.externalData);
    }

    if (ckpt.lora) {
      mkdirSync(path.join(tmp, ADAPTER_DIR));
      const files = encodeAdapter(c, ckpt.lora.config, ckpt.lora.adapters, null);
      for (const [name, bytes] of Object.entries(files))
        writeDurable(path.join(tmp, ADAPTER_DIR, name), bytes);
    }
    const trained = trainableSpecs(c, ckpt.lora?.config);
    if (ckpt.optimizer && ckpt.trainerState) {
      const moments = {
        ...tensorsOf(c, ckpt.optimizer.expAvg, optimizerName.expAvg, 'F32', trained),
        ...tensorsOf(c, ckpt.optimizer.expAvgSq, optimizerName.expAvgSq, 'F32', trained),
      };
      writeDurable(path.join(tmp, CHECKPOINT_FILES.optimizer), safetensorsPieces(moments));
      writeDurable(
        path.join(tmp, CHECKPOINT_FILES.trainerState),
        json(TrainerState.parse(ckpt.trainerState)),
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

/** Tensors a Llama checkpoint may carry that our model does not use. */
export function ignorable(name: string, c: LlamaConfig): boolean {
  return name.endsWith('.rotary_emb.inv_freq') || (c.tieEmbeddings && name === 'lm_head.weight');
}

type TensorSource = Map<string, { tensor: NamedTensor; file: string }>;

/**
 * Reads the tensors named `name(p)` for every parameter p and every naming in `names`, checking
 * dtype and shape against the config; any other tensor is an error. `where` names the weights in
 * messages (the file, or the index of a sharded checkpoint).
 */
function readParams(
  source: TensorSource,
  where: string,
  c: LlamaConfig,
  names: readonly ((p: string) => string)[],
  floatsOnly: boolean,
  specs: readonly ParamSpec[] = paramSpecs(c),
): Params[] {
  const expected = new Set<string>();
  const out = names.map((name) => {
    const params: Params = new Map();
    for (const s of specs) {
      const key = name(s.name);
      expected.add(key);
      const entry = source.get(key);
      if (!entry) throw new BadInputError(where, null, key, 'missing');
      const { tensor: t, file } = entry;
      if (t.shape.join(',') !== s.shape.join(','))
        throw new BadInputError(file, null, key, `shape [${t.shape}] but config.json needs [${s.shape}]`);
      if (floatsOnly && t.dtype !== 'F32')
        throw new BadInputError(file, null, key, `dtype ${t.dtype}, expected F32`);
      params.set(s.name, toFloat32(t, file, key));
    }
    return params;
  });
  for (const [key, { file }] of source)
    if (!expected.has(key) && !ignorable(key, c))
      throw new BadInputError(file, null, key, 'not a parameter of this model (config.json)');
  return out;
}

const fileSource = (file: string): TensorSource => {
  if (!existsSync(file)) throw new BadInputError(file, null, '(file)', 'not found');
  return new Map(Object.entries(readSafetensors(file).tensors).map(([k, tensor]) => [k, { tensor, file }]));
};

/** The weights' dtype: config.json's torch_dtype where it states one, else the tensors' own. */
function weightsDtype(configJson: Record<string, unknown>, source: TensorSource): WeightsDtype {
  const stated = dtypeFromTorchName(configJson.torch_dtype ?? configJson.dtype);
  if (stated) return stated;
  const first = [...source.values()].find((e) => ['F32', 'F16', 'BF16'].includes(e.tensor.dtype));
  return (first?.tensor.dtype as WeightsDtype | undefined) ?? 'F32';
}

/**
 * Reads and validates a checkpoint folder (with `weightsOnly`, without its optimiser and trainer
 * state, as sampling needs it). The model config comes from its config.json alone, and
 * every tensor's shape is checked against it, so a resumed run always has the shapes it was saved
 * with. Bad files throw BadInputError naming the file and field.
 */
export function loadCheckpoint(dir: string, options: { weightsOnly?: boolean } = {}): Checkpoint {
  const file = (f: string) => path.join(dir, f);
  const configJson = readJsonFile(file(CHECKPOINT_FILES.config)) as Record<string, unknown>;
  const config = parseConfigJson(configJson, file(CHECKPOINT_FILES.config));
  const tokenizerJson = readJsonFile(file(CHECKPOINT_FILES.tokenizer)) as Record<string, unknown>;
  const tokenizerConfig = (
    existsSync(file(CHECKPOINT_FILES.tokenizerConfig))
      ? readJsonFile(file(CHECKPOINT_FILES.tokenizerConfig))
      : {}
  ) as Record<string, unknown>;
  const source = readWeights(dir);
  const where = existsSync(file(CHECKPOINT_FILES.weights))
    ? file(CHECKPOINT_FILES.weights)
    : file(WEIGHTS_INDEX_FILE);
  const [params] = readParams(source, where, config, [(p) => p], false);
  // One of ours carries our own fields beside Hugging Face's and is rewritten from its config; a
  // Hugging Face checkpoint keeps its config.json, dtype, files, and whether it had an ONNX export.
  const own = 'dModel' in configJson;
  const ckpt: Checkpoint = {
    config,
    params,
    tokenizer: { tokenizerJson, tokenizerConfig },
    dtype: weightsDtype(configJson, source),
    extraFiles: readExtraFiles(dir),
    ...(own
      ? {}
      : {
          sourceFiles: Object.fromEntries(
            [CHECKPOINT_FILES.config, CHECKPOINT_FILES.tokenizer, CHECKPOINT_FILES.tokenizerConfig]
              .filter((f) => existsSync(file(f)))
              .map((f) => [f, readFileSync(file(f))]),
          ),
          onnx: existsSync(file(CHECKPOINT_FILES.onnx)),
        }),
  };

  const adapterDir = file(ADAPTER_DIR);
  if (existsSync(path.join(adapterDir, ADAPTER_CONFIG))) {
    const { lora, params: adapters } = readAdapter(adapterDir, config);
    ckpt.lora = { config: lora, adapters };
  }

  const stateFile = file(CHECKPOINT_FILES.trainerState);
  const optimizerFile = file(CHECKPOINT_FILES.optimizer);
  if (!options.weightsOnly && (existsSync(stateFile) || existsSync(optimizerFile))) {
    const parsed = TrainerState.safeParse(readJsonFile(stateFile));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new BadInputError(stateFile, null, issue.path.join('.') || '(root)', issue.message);
    }
    ckpt.trainerState = parsed.data;
    const [expAvg, expAvgSq] = readParams(
      fileSource(optimizerFile),
      optimizerFile,
      config,
      [optimizerName.expAvg, optimizerName.expAvgSq],
      true,
      trainableSpecs(config, ckpt.lora?.config),
    );
    ckpt.optimizer = { expAvg, expAvgSq };
  }
  return ckpt;
}
