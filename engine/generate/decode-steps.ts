import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { CHECKPOINT_FILES, loadCheckpoint } from '../checkpoint/checkpoint';
import { parseConfigJson } from '../checkpoint/model-config';
import { DECODE_STEPS_IO, buildDecodeStepsGraph } from '../model/decode-graph';
import { toBytes } from '../onnx/serialize';
import type { GenerationModel } from './load';
import type { SampleOptions } from './options';
import { cachedSession, releaseSessions } from './session-cache';

/**
 * Vocabularies above this use the one-step loop: the in-graph draw ranks and sums over
 * [vocab, vocab] products, cheap for character-level models, not for 32K-token ones.
 */
export const DECODE_STEPS_MAX_VOCAB = 1024;

/**
 * Why `samplePaths` cannot run several steps per session.run for this model and these options, or
 * null when it can: the model must be one of our own checkpoints (the graph is rebuilt from its
 * config.json and model.safetensors) and every logits processor in use must have an in-graph twin.
 */
export function decodeStepsUnavailable(model: GenerationModel, o: SampleOptions): string | null {
  if (o.repetitionPenalty !== 1) return 'repetition penalty runs on the host only';
  if (o.topP !== 1) return 'top-p runs on the host only';
  if (o.minP !== 0) return 'min-p runs on the host only';
  if (o.mixLengths) return 'mixLengths pads rows; the decode-steps graph is used with equal lengths only';
  if (model.signature.cacheDType !== 'float32') return 'only float32 caches (our own checkpoints)';
  if (model.logitsSize > DECODE_STEPS_MAX_VOCAB)
    return `vocabulary ${model.logitsSize} > ${DECODE_STEPS_MAX_VOCAB}`;
  if (!isOwnCheckpoint(model.dir)) return 'not a checkpoint written by engine/checkpoint';
  if (slidingWindowOf(model.dir) !== null)
    return 'sliding-window attention runs in the one-step decoder only';
  return null;
}

function slidingWindowOf(dir: string): number | null {
  const configFile = path.join(dir, CHECKPOINT_FILES.config);
  return parseConfigJson(JSON.parse(readFileSync(configFile, 'utf8')), configFile).slidingWindow;
}

/** engine/checkpoint writes our own config fields beside Hugging Face's, and model.safetensors. */
function isOwnCheckpoint(dir: string): boolean {
  const configFile = path.join(dir, CHECKPOINT_FILES.config);
  if (!existsSync(path.join(dir, CHECKPOINT_FILES.weights)) || !existsSync(configFile)) return false;
  try {
    const json = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    if (!('dModel' in json)) return false;
    parseConfigJson(json, configFile);
    return true;
  } catch {
    return false;
  }
}

/** The decode-steps graphs' names in the session cache: one graph per (k, with top-k or not). */
const STEPS_GRAPH = 'decode-steps|';
const stepsGraph = (steps: number, topK: boolean) => `${STEPS_GRAPH}${steps}|${topK}`;

/**
 * The decode-steps session of one of our checkpoints, built from the same config.json and weights
 * as its onnx/model.onnx. It shares the one session cache with the decoder, keyed on the weights
 * file (so rewritten weights rebuild it), `steps`, `topK`, provider and threads.
 */
export function decodeStepsSession(
  model: GenerationModel,
  steps: number,
  topK: boolean,
): Promise<ort.InferenceSession> {
  const key = {
    graph: stepsGraph(steps, topK),
    file: path.join(model.dir, CHECKPOINT_FILES.weights),
    provider: model.provider,
    threads: model.threads,
  };
  return cachedSession(key, () => {
    const ckpt = loadCheckpoint(model.dir);
    const graph = buildDecodeStepsGraph(ckpt.config, ckpt.params, {
      steps,
      topK,
      tokenizerVocabSize: Math.min(model.tokenizer.vocabSize, ckpt.config.vocabSize),
    });
    return toBytes(graph);
  });
}

/** Releases the decode-steps sessions only; the decoders' stay cached. */
export function releaseDecodeStepsSessions(): Promise<void> {
  return releaseSessions((graph) => graph.startsWith(STEPS_GRAPH));
}

/** What one run of `steps` steps chose for each row. */
export interface StepsResult {
  /** [rows, steps] */
  tokens: BigInt64Array;
  chosenLogits: Float32Array;
  maxLogits: Float32Array;
  totals: Float64Array;
  present: ort.Tensor[];
}

export interface StepsFeeds {
  past: readonly ort.Tensor[];
  width: number;
  tokens: readonly number[];
  lengths: readonly number[];
  positions: readonly number[];
  /** [rows · steps], negative = greedy. */
  uniforms: Float64Array;
  temperature: number;
  /** 0 = off (a graph built without top-k). */
  topK: number;
}

const int64 = (values: ArrayLike<number>, dims: number[]) =>
  new ort.Tensor(
    'int64',
    BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  );

/** `steps` decode steps for a batch laid out as decoder.ts's decodeStep lays it out. */
export async function runDecodeSteps(
  model: GenerationModel,
  session: ort.InferenceSession,
  steps: number,
  f: StepsFeeds,
): Promise<StepsResult> {
  const sig = model.signature;
  const rows = f.tokens.length;
  const width = f.width;
  // The past's columns only: the tokens a run decodes are always real.
  const mask = new BigInt64Array(rows * width);
  for (let r = 0; r < rows; r++) mask.fill(1n, (r + 1) * width - f.lengths[r], (r + 1) * width);
  const feeds: Record<string, ort.Tensor> = {
    input_ids: int64(f.tokens, [rows, 1]),
    attention_mask: new ort.Tensor('int64', mask, [rows, width]),
    position_ids: int64(f.positions, [rows, 1]),
    [DECODE_STEPS_IO.uniforms]: new ort.Tensor('float64', f.uniforms, [rows, steps]),
    [DECODE_STEPS_IO.inverseTemperature]: new ort.Tensor(
      'float64',
      Float64Array.of(f.temperature > 0 ? 1 / f.temperature : 1),
      [],
    ),
  };
  if (f.topK > 0) feeds[DECODE_STEPS_IO.topK] = new ort.Tensor('float32', Float32Array.of(f.topK), []);
  f.past.forEach((t, i) => (feeds[sig.pastNames[i]] = t));
  const out = await session.run(feeds);
  return {
    tokens: out[DECODE_STEPS_IO.tokens].data as BigInt64Array,
    chosenLogits: out[DECODE_STEPS_IO.chosenLogits].data as Float32Array,
    maxLogits: out[DECODE_STEPS_IO.maxLogits].data as Float32Array,
    totals: out[DECODE_STEPS_IO.totals].data as Float64Array,
    present: sig.presentNames.map((n) => out[n]),
  };
}
