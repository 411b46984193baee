import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { BadInputError } from '../../base/errors';
import { WEIGHTS_FILE, WEIGHTS_INDEX_FILE } from '../checkpoint/weights';
import { type LoadedTokenizer, loadTokenizer } from '../tokenizer/load';
import { graphFromWeights } from './graph-from-weights';
import {
  cacheDimsFromConfig,
  eosIdsFromConfig,
  eosIdsFromGenerationConfig,
  readSamplerConfigJson,
} from './model-config';
import { type ExecutionProvider, ExecutionProviderUnavailableError, cudaUnavailableReason } from './provider';
import { DECODER_GRAPH, cachedSession } from './session-cache';
import { type DecoderSignature, readDecoderSignature } from './signature';

export interface LoadOptions {
  provider?: ExecutionProvider;
  /** When cuda is asked for but cannot load, run on cpu instead of throwing. */
  allowCpuFallback?: boolean;
  /** Intra-op threads; default: onnxruntime's (every core). */
  threads?: number;
  /** Where the graph of a folder without ONNX export is built (default: under the OS temp folder). */
  graphCacheDir?: string;
}

/** A model folder ready to sample from. */
export interface GenerationModel {
  dir: string;
  modelFile: string;
  tokenizerFile: string;
  session: InferenceSession;
  signature: DecoderSignature;
  tokenizer: LoadedTokenizer;
  /** The provider the session really runs on. */
  provider: ExecutionProvider;
  /** Why cuda was asked for and cpu given, when that happened. */
  fallbackReason: string | null;
  /** Tokens that end a completion: the tokenizer's eos, config.json's and generation_config.json's eos_token_id. */
  eosIds: number[];
  /** Longest prompt + completion the model takes (config.json max_position_embeddings), if known. */
  maxPositions: number | null;
  /** Size of the logits' last axis: the model's vocabulary. */
  logitsSize: number;
  /** Intra-op threads the session was created with (undefined: onnxruntime's default). */
  threads?: number;
}

/** The ONNX file of a model folder: onnx/model.onnx (our checkpoints, Optimum) or model.onnx. */
export function findModelFile(dir: string): string {
  for (const candidate of [path.join(dir, 'onnx', 'model.onnx'), path.join(dir, 'model.onnx')])
    if (existsSync(candidate)) return candidate;
  throw new BadInputError(
    dir,
    null,
    'onnx/model.onnx',
    'no onnx/model.onnx or model.onnx in the model folder',
  );
}

/**
 * The ONNX decoder to sample a model folder with: its own export (onnx/model.onnx or model.onnx), or
 * for a Hugging Face folder with safetensors weights only, the engine's inference graph built from
 * them (graph-from-weights.ts).
 */
export function decoderFile(dir: string, graphCacheDir?: string): string {
  for (const candidate of [path.join(dir, 'onnx', 'model.onnx'), path.join(dir, 'model.onnx')])
    if (existsSync(candidate)) return candidate;
  if (existsSync(path.join(dir, WEIGHTS_FILE)) || existsSync(path.join(dir, WEIGHTS_INDEX_FILE)))
    return graphFromWeights(dir, graphCacheDir);
  throw new BadInputError(
    dir,
    null,
    'onnx/model.onnx',
    `the model folder has no ONNX decoder (onnx/model.onnx, model.onnx) and no safetensors weights (${WEIGHTS_FILE}, ${WEIGHTS_INDEX_FILE})`,
  );
}

/**
 * Loads a model folder (ONNX decoder or safetensors weights + tokenizer.json + tokenizer_config.json
 * + optional config.json) and checks that tokenizer and model agree before any sampling starts.
 */
export async function loadGenerationModel(dir: string, options: LoadOptions = {}): Promise<GenerationModel> {
  const modelFile = decoderFile(dir, options.graphCacheDir);
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const tokenizer = loadTokenizer(dir);
  const { config } = readSamplerConfigJson(dir);

  let provider = options.provider ?? 'cpu';
  let fallbackReason: string | null = null;
  if (provider === 'cuda') {
    const reason = cudaUnavailableReason();
    if (reason !== null) {
      if (!options.allowCpuFallback) throw new ExecutionProviderUnavailableError('cuda', reason);
      provider = 'cpu';
      fallbackReason = reason;
    }
  }
  const session = await cachedSession({
    graph: DECODER_GRAPH,
    file: modelFile,
    provider,
    threads: options.threads,
  });
  const signature = readDecoderSignature(session, modelFile, cacheDimsFromConfig(config));

  const logitsSize = signature.logitsSize ?? config.vocab_size ?? null;
  if (logitsSize === null)
    throw new BadInputError(
      modelFile,
      null,
      'logits',
      'the vocabulary axis of the logits is symbolic and config.json gives no vocab_size',
    );
  if (tokenizer.vocabSize > logitsSize)
    throw new BadInputError(
      tokenizerFile,
      null,
      'vocab',
      `the tokenizer has ${tokenizer.vocabSize} token ids but ${modelFile} produces logits for ` +
        `${logitsSize}: the tokenizer does not belong to this model`,
    );

  const eosIds = [
    ...new Set([
      ...(tokenizer.eosId === null ? [] : [tokenizer.eosId]),
      ...eosIdsFromConfig(config),
      ...eosIdsFromGenerationConfig(dir),
    ]),
  ];
  return {
    dir,
    modelFile,
    tokenizerFile,
    session,
    signature,
    tokenizer,
    provider,
    fallbackReason,
    eosIds,
    maxPositions: config.max_position_embeddings ?? null,
    logitsSize,
    threads: options.threads,
  };
}
