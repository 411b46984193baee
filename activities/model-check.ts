import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { findModelFile } from '../engine/generate';
import { readModelConfig } from '../engine/generate/model-config';
import { loadTokenizer } from '../engine/tokenizer/load';
import { BadInputError } from '../method/errors';

/** Above this the graph is not parsed at import (weights of big exports live in external data files). */
const PARSE_LIMIT_BYTES = 512 * 1024 * 1024;

/**
 * The checks a model folder must pass before a campaign adopts it, so that a broken model fails once
 * at import, naming the user's file, instead of on every sampling shard and retry: tokenizer files
 * present, config.json valid, the tokenizer's ids within the model's vocabulary, the ONNX graph whole.
 */
export async function checkModelFolder(dir: string): Promise<void> {
  try {
    await fs.access(dir);
  } catch {
    throw new BadInputError(dir, null, 'model.dir', 'model folder not found');
  }
  const modelFile = findModelFile(dir);
  for (const required of ['tokenizer.json', 'tokenizer_config.json']) {
    try {
      await fs.access(path.join(dir, required));
    } catch {
      throw new BadInputError(path.join(dir, required), null, required, 'missing from the model folder');
    }
  }
  const { config, file: configFile } = readModelConfig(dir);
  const tokenizer = loadTokenizer(dir);
  if (config.vocab_size !== undefined && tokenizer.vocabSize > config.vocab_size) {
    throw new BadInputError(
      path.join(dir, 'tokenizer.json'),
      null,
      'vocab',
      `the tokenizer has ${tokenizer.vocabSize} token ids but ${configFile} gives vocab_size ` +
        `${config.vocab_size}: the tokenizer does not belong to this model`,
    );
  }
  const { size } = await fs.stat(modelFile);
  if (size <= PARSE_LIMIT_BYTES) {
    let graph: onnx.ModelProto;
    try {
      graph = onnx.ModelProto.decode(await fs.readFile(modelFile));
    } catch (e) {
      throw new BadInputError(
        modelFile,
        null,
        'onnx',
        `not a valid ONNX model (truncated or corrupt): ${(e as Error).message}`,
      );
    }
    if ((graph.graph?.output?.length ?? 0) === 0) {
      throw new BadInputError(modelFile, null, 'onnx', 'not a valid ONNX model: no graph outputs');
    }
  }
}
