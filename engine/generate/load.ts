import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { BadInputError } from '../../method/errors';
import { type LoadedTokenizer, loadTokenizer } from '../tokenizer/load';
import { cacheDimsFromConfig, eosIdsFromConfig, readModelConfig } from './model-config';
import { type ExecutionProvider, ExecutionProviderUnavailableError, cudaUnavailableReason } from './provider';
import { DECODER_GRAPH, cachedSession } from './session-cache';
import { type DecoderSignature, readDecoderSignature } from './signature';

export interface LoadOptions {
  provider?: ExecutionProvider;
  /** When cuda is asked for but cannot load, run on cpu instead of throwing. */
  allowCpuFallback?: boolean;
  /** Intra-op threads; default: onnxruntime's (every core). */
  threads?: number;
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
  /** Tokens that end a completion: the tokenizer's eos plus config.json's eos_token_id. */
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
 * Loads a model folder (ONNX decoder + tokenizer.json + tokenizer_config.json + optional config.json)
 * and checks that tokenizer and model agree before any sampling starts.
 */
export async function loadGenerationModel(dir: string, options: LoadOptions = {}): Promise<GenerationModel> {
  const modelFile = findModelFile(dir);
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const tokenizer = loadTokenizer(dir);
  const { config } = readModelConfig(dir);

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
    ...new Set([...(tokenizer.eosId === null ? [] : [tokenizer.eosId]), ...eosIdsFromConfig(config)]),
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
