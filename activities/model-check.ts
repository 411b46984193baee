import * as fs from 'node:fs/promises';
import { onnx } from 'onnx-proto';
import { type ModelReport, checkModel } from '../engine/checkpoint/check';
import { BadInputError } from '../base/errors';

/** Above this the graph is not parsed at import (weights of big exports live in external data files). */
const PARSE_LIMIT_BYTES = 512 * 1024 * 1024;

/**
 * The checks a model folder must pass before a campaign adopts it, so that a broken model fails once
 * at import, naming the user's file, instead of on every sampling shard and retry, or after a round
 * of sampling at the fine-tune step: a supported architecture with every weight present in a shape
 * and dtype lmsi reads, a tokenizer that loads and fits the model, a chat template that parses, the
 * ONNX graph (where there is one) whole, and the weights and config fine-tuning needs.
 */
export async function checkModelFolder(dir: string): Promise<ModelReport> {
  const report = checkModel(dir, { training: true });
  if (report.onnx) {
    const modelFile = `${report.dir}/${report.onnx}`;
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
  return report;
}
