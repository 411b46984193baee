import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { BadInputError } from '../../base/errors';
import { eosIdsFromConfig, readSamplerConfigJson } from '../generate/model-config';
import { type LlamaConfig, headDim } from '../model/config';
import { parameterCount, paramSpecs } from '../model/params';
import { loadChatTemplate } from '../tokenizer/chat-template';
import { loadTokenizer } from '../tokenizer/load';
import { CHECKPOINT_FILES, ignorable } from './checkpoint';
import { ARCHITECTURES, parseConfigJson } from './model-config';
import { readSafetensorsHeader } from './safetensors';
import { WEIGHTS_INDEX_FILE, dtypeFromTorchName, weightFiles } from './weights';

/** What a model folder is, as `lmsi model check` prints it and a campaign records it. */
export interface ModelReport {
  dir: string;
  /** config.json model_type and architecture; null for a bare ONNX export without config.json. */
  family: LlamaConfig['family'] | null;
  architecture: string | null;
  parameters: number | null;
  /** The weights' dtype (F32, F16, BF16), or null without safetensors weights. */
  dtype: string | null;
  layers: number | null;
  heads: number | null;
  kvHeads: number | null;
  headDim: number | null;
  vocabSize: number | null;
  /** Longest prompt + completion (max_position_embeddings); null when nothing states it. */
  contextLength: number | null;
  ropeScaling: string | null;
  slidingWindow: number | null;
  /** model.safetensors, or the shards of model.safetensors.index.json. */
  weightFiles: string[];
  /** The ONNX export sampling uses, or null: the engine builds its inference graph from the weights. */
  onnx: string | null;
  tokenizer: {
    vocabSize: number;
    /** Tokens put before every text (BOS), and those that end a completion. */
    prefixIds: number[];
    eosIds: number[];
    chatTemplate: boolean;
  };
  /** Whether lmsi can fine-tune it (config.json of a supported family and safetensors weights). */
  trainable: boolean;
}

export interface CheckOptions {
  /** Refuse a folder lmsi cannot fine-tune (a campaign's base model must train). */
  training?: boolean;
}

/**
 * Checks a model folder for everything sampling, evaluation and fine-tuning will need — files, config
 * (a supported family, transformers' fields), every weight's name, shape and dtype (from the
 * safetensors headers, without reading the weights), the tokenizer and that it fits the model, the
 * chat template — and throws a BadInputError naming the user's file and field on the first problem.
 */
export function checkModel(dir: string, options: CheckOptions = {}): ModelReport {
  const resolved = path.resolve(dir);
  if (!existsSync(resolved) || !statSync(resolved).isDirectory())
    throw new BadInputError(resolved, null, 'model.dir', 'model folder not found');
  const file = (f: string) => path.join(resolved, f);
  const tokenizerFile = file(CHECKPOINT_FILES.tokenizer);
  if (!existsSync(tokenizerFile))
    throw new BadInputError(tokenizerFile, null, 'tokenizer.json', 'missing from the model folder');
  const tokenizer = loadTokenizer(resolved);

  const onnx = [file(CHECKPOINT_FILES.onnx), file('model.onnx')].find((f) => existsSync(f)) ?? null;
  const hasWeights = existsSync(file(CHECKPOINT_FILES.weights)) || existsSync(file(WEIGHTS_INDEX_FILE));
  const configFile = file(CHECKPOINT_FILES.config);
  const hasConfig = existsSync(configFile);
  if (!onnx && !hasWeights)
    throw new BadInputError(
      resolved,
      null,
      'model.safetensors',
      'no safetensors weights (model.safetensors, model.safetensors.index.json) and no ONNX export (onnx/model.onnx)',
    );

  let config: LlamaConfig | null = null;
  let dtype: string | null = null;
  let files: string[] = [];
  let configJson: Record<string, unknown> = {};
  if (hasConfig) {
    try {
      configJson = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new BadInputError(configFile, null, '(json)', (e as Error).message);
    }
  }
  if (hasWeights || options.training) {
    if (!hasConfig)
      throw new BadInputError(
        configFile,
        null,
        'config.json',
        'missing: the model cannot be fine-tuned without it',
      );
    config = parseConfigJson(configJson, configFile);
  }
  if (config && hasWeights) {
    files = weightFiles(resolved).files;
    const seen = new Map<string, { dtype: string; shape: number[]; file: string }>();
    for (const f of files)
      for (const [name, t] of Object.entries(readSafetensorsHeader(f))) seen.set(name, { ...t, file: f });
    const where = files.length === 1 ? files[0] : file(WEIGHTS_INDEX_FILE);
    for (const s of paramSpecs(config)) {
      const t = seen.get(s.name);
      if (!t) throw new BadInputError(where, null, s.name, 'missing (config.json says the model has it)');
      if (t.shape.join(',') !== s.shape.join(','))
        throw new BadInputError(
          t.file,
          null,
          s.name,
          `shape [${t.shape}] but config.json needs [${s.shape}]`,
        );
      if (!['F32', 'F16', 'BF16'].includes(t.dtype))
        throw new BadInputError(
          t.file,
          null,
          s.name,
          `dtype ${t.dtype}: only F32, F16 and BF16 weights are supported`,
        );
      dtype ??= t.dtype;
    }
    const expected = new Set(paramSpecs(config).map((s) => s.name));
    for (const [name, t] of seen)
      if (!expected.has(name) && !ignorable(name, config))
        throw new BadInputError(t.file, null, name, 'not a parameter of this model (config.json)');
    dtype = dtypeFromTorchName(configJson.torch_dtype ?? configJson.dtype) ?? dtype;
  } else if (options.training) {
    throw new BadInputError(
      file(CHECKPOINT_FILES.weights),
      null,
      'model.safetensors',
      'missing: lmsi fine-tunes from safetensors weights (an ONNX export alone can be sampled, not trained)',
    );
  }

  const { config: hf } = readSamplerConfigJson(resolved);
  const vocab = config?.vocabSize ?? hf.vocab_size ?? null;
  if (vocab !== null && tokenizer.vocabSize > vocab)
    throw new BadInputError(
      tokenizerFile,
      null,
      'vocab',
      `the tokenizer has ${tokenizer.vocabSize} token ids but ${configFile} gives vocab_size ${vocab}: ` +
        'the tokenizer does not belong to this model',
    );
  const eosIds = [
    ...new Set([...(tokenizer.eosId === null ? [] : [tokenizer.eosId]), ...eosIdsFromConfig(hf)]),
  ];
  for (const id of [...eosIds, ...tokenizer.prefixIds])
    if (vocab !== null && id >= vocab)
      throw new BadInputError(
        configFile,
        null,
        'eos_token_id',
        `token id ${id} is outside the vocabulary (${vocab})`,
      );
  const chatTemplate = loadChatTemplate(resolved, tokenizer) !== null;

  const scaling = config?.ropeScaling ?? null;
  return {
    dir: resolved,
    family: config?.family ?? null,
    architecture: config ? ARCHITECTURES[config.family] : null,
    parameters: config ? parameterCount(config) : null,
    dtype,
    layers: config?.nLayers ?? null,
    heads: config?.nHeads ?? null,
    kvHeads: config?.nKvHeads ?? null,
    headDim: config ? headDim(config) : null,
    vocabSize: vocab,
    contextLength: config?.maxSeqLen ?? hf.max_position_embeddings ?? null,
    ropeScaling: scaling === null ? null : `${scaling.type} ×${scaling.factor}`,
    slidingWindow: config?.slidingWindow ?? null,
    weightFiles: files.map((f) => path.basename(f)),
    onnx: onnx ? path.relative(resolved, onnx) : null,
    tokenizer: { vocabSize: tokenizer.vocabSize, prefixIds: [...tokenizer.prefixIds], eosIds, chatTemplate },
    trainable: config !== null && hasWeights,
  };
}
