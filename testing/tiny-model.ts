import * as path from 'node:path';
import { buildArithBaseModel, TINY_RECIPE, type ArithBaseModel } from '../embedded';
import { createBaseModel } from '../engine/checkpoint';

/** A randomly initialised tiny checkpoint: enough for tests about orchestration. */
export function writeRandomTinyModel(dir: string, seed = 1): string {
  return createBaseModel({
    config: { dModel: 32, nLayers: 1, nHeads: 4, nKvHeads: 2, dFF: 64, maxSeqLen: 320 },
    seed,
    dir,
  });
}

/**
 * A tiny model trained briefly on arith seed examples (embedded/'s tiny recipe, the one
 * `lmsi model init --recipe tiny` builds for examples/tiny.config.json): it writes "... The answer
 * is N." often enough that votes agree and rounds have paths to keep and fine-tune on. Cached under
 * tmp/ (git-ignored), shared by the tests and the benchmarks.
 */
export function pretrainedTinyModel(): Promise<ArithBaseModel> {
  return buildArithBaseModel(path.resolve(__dirname, '../tmp/test-models'), TINY_RECIPE);
}
