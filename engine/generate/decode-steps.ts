import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { CHECKPOINT_FILES, loadCheckpoint } from '../checkpoint/checkpoint';
import { parseConfigJson } from '../checkpoint/model-config';
import { WEIGHTS_FILE, WEIGHTS_INDEX_FILE } from '../checkpoint/weights';
import { DECODE_STEPS_IO, buildDecodeStepsGraph } from '../model/decode-graph';
import type { TruncationFlags } from '../model/draw-in-graph';
import { type Params, paramSpecs, parameterCount } from '../model/params';
import { type ExternalRef, externalRefsOf, inlineFloatsOf, serialize, toBytes } from '../onnx/serialize';
import type { GenerationModel } from './load';
import type { SampleOptions } from './options';
import {
  decoderLoopBytes,
  decoderLoopSessionConfig,
  decoderLoopUnavailable,
  decoderWeightBytes,
} from './decoder-loop';
import { cachedSession, releaseSessions } from './session-cache';

/**
 * A decode-steps graph with its float32 weights inline is one protobuf message (at most 2 GiB): past
 * this many weight bytes it must share the external data of a decoder built from the weights (a
 * Hugging Face folder's graph, which keeps its weights outside), or the one-step loop
 * samples. The margin leaves room for the graph itself.
 */
export const DECODE_STEPS_MAX_WEIGHT_BYTES = 2 ** 31 - 2 ** 26;

/**
 * A decode-steps session holds the weights a second time in onnxruntime, prepacked (README.md has
 * the measurements). It is built only where the machine has this many times the float32 weights
 * available, so a large model samples one step at a time rather than running a worker out of memory
 * (the samples are the same either way).
 */
export const DECODE_STEPS_MEMORY_FACTOR = 2;

/**
 * The decode-steps sessions this process has built (decoder file and graph name): each one's memory
 * was checked before it. Each (k, truncations) graph is a session of its own, holding the weights
 * again, so a second one (greedy evaluation beside top-p sampling) is checked too.
 */
const builtFor = new Set<string>();
const builtKey = (model: GenerationModel, graph: string) => `${model.modelFile}|${graph}`;

/**
 * Which graph runs several decode steps per session.run for a model: `engine`, the engine's k-step
 * graph built from the folder's config.json and weights, where the decoder is the engine's own graph
 * of them (our checkpoints' onnx/model.onnx, or the graph built for a Hugging Face folder without an
 * ONNX export), so that it continues the prefill's cache; `decoder-loop`, the decoder's own graph in
 * a Loop with the draw after its logits (decoder-loop.ts), for every other export (Optimum's,
 * onnxruntime-genai's, any onnx/model.onnx a user brings).
 */
export type StepsGraph = 'engine' | 'decoder-loop';

export function stepsGraphOf(model: GenerationModel): StepsGraph {
  const inFolder = !path.relative(path.resolve(model.dir), path.resolve(model.modelFile)).startsWith('..');
  return !inFolder || ownCheckpoint(model.dir) ? 'engine' : 'decoder-loop';
}

/** Ours carry their own fields beside Hugging Face's; their onnx/model.onnx is the engine's graph. */
function ownCheckpoint(dir: string): boolean {
  try {
    const json = JSON.parse(readFileSync(path.join(dir, CHECKPOINT_FILES.config), 'utf8')) as object;
    return 'dModel' in json;
  } catch {
    return false;
  }
}

/**
 * Why `generatePaths` cannot run several steps per session.run for this model and these options, or
 * null when it can: every logits processor in use must have an in-graph twin, and the graph of
 * `stepsGraphOf` must be buildable (and fit in memory beside the decoder's session).
 */
export function decodeStepsUnavailable(model: GenerationModel, o: SampleOptions): string | null {
  if (o.repetitionPenalty !== 1) return 'repetition penalty runs on the host only';
  if (o.mixLengths) return 'mixLengths pads rows; the decode-steps graph is used with equal lengths only';
  if (stepsGraphOf(model) === 'decoder-loop')
    return decoderLoopUnavailable(model) ?? loopMemoryUnavailable(model, stepsGraph(0, truncationsOf(o)));
  if (model.signature.cacheDType !== 'float32')
    return `${model.signature.cacheDType} caches: the decode-steps graph is float32`;
  return engineGraphUnavailable(model, stepsGraph(o.stepsPerRun, truncationsOf(o)));
}

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);

/** Why the folder's decoder is not a graph the engine builds from its config.json and weights. */
function engineGraphUnavailable(model: GenerationModel, graph: string): string | null {
  const dir = model.dir;
  const configFile = path.join(dir, CHECKPOINT_FILES.config);
  if (!existsSync(path.join(dir, WEIGHTS_FILE)) && !existsSync(path.join(dir, WEIGHTS_INDEX_FILE)))
    return `no safetensors weights (${WEIGHTS_FILE}, ${WEIGHTS_INDEX_FILE}) to build the decode-steps graph from`;
  if (!existsSync(configFile)) return `no ${CHECKPOINT_FILES.config} to build the decode-steps graph from`;
  let weightBytes: number;
  try {
    const json = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    const config = parseConfigJson(json, configFile);
    weightBytes = 4 * parameterCount(config);
  } catch (e) {
    return `the engine cannot build this model: ${(e as Error).message}`;
  }
  if (weightBytes > DECODE_STEPS_MAX_WEIGHT_BYTES && sharedWeights(model) === null)
    return `${weightBytes} bytes of float32 weights: the decode-steps graph is built in memory, at most ${DECODE_STEPS_MAX_WEIGHT_BYTES}`;
  return memoryUnavailable(model, graph, weightBytes, 'float32 weights');
}

/**
 * Why the decode-steps session's second copy of the weights would not fit, or null. `buildBytes`:
 * what building the graph holds for a moment beyond that (an export's inline weights, twice).
 */
function memoryUnavailable(
  model: GenerationModel,
  graph: string,
  weightBytes: number,
  what: string,
  buildBytes = 0,
): string | null {
  const available = freemem();
  if (
    !builtFor.has(builtKey(model, graph)) &&
    available < DECODE_STEPS_MEMORY_FACTOR * weightBytes + buildBytes
  )
    return (
      `the decode-steps session would hold a second copy of the ${gib(weightBytes)} GiB of ${what}; ` +
      `${gib(available)} GiB of memory is available, ${DECODE_STEPS_MEMORY_FACTOR}x that wanted` +
      (buildBytes > 0 ? ` plus ${gib(buildBytes)} GiB to re-encode the export's inline weights` : '')
    );
  return null;
}

function loopMemoryUnavailable(model: GenerationModel, graph: string): string | null {
  const bytes = decoderWeightBytes(model.modelFile);
  return memoryUnavailable(model, graph, bytes.weights, 'weights', 2 * bytes.inline);
}

/** The truncations a sampling's options turn on (processors/index.ts's conditions). */
export function truncationsOf(o: Pick<SampleOptions, 'topK' | 'topP' | 'minP'>): TruncationFlags {
  return { topK: o.topK > 0, topP: o.topP !== 1, minP: o.minP !== 0 };
}

/** The decode-steps graphs' names in the session cache: one graph per (k, truncations). */
const STEPS_GRAPH = 'decode-steps|';
const truncationNames = (t: TruncationFlags): string[] =>
  (['top-k', 'top-p', 'min-p'] as const).filter((_, i) => [t.topK, t.topP, t.minP][i]);
const stepsGraph = (steps: number, t: TruncationFlags) =>
  `${STEPS_GRAPH}${steps}|${truncationNames(t).join('+')}`;

/**
 * The decode-steps session of a model whose decoder is the engine's graph (see
 * `decodeStepsUnavailable`), built from the same config.json and weights. It shares the one session
 * cache with the decoder, keyed on the decoder's file (rewritten with the weights: our checkpoints
 * are replaced as a whole, and a graph built from a Hugging Face folder is named after its weights'
 * sizes and mtimes), `steps`, the truncations, provider and threads.
 */
export function decodeStepsSession(
  model: GenerationModel,
  steps: number,
  truncations: TruncationFlags,
): Promise<ort.InferenceSession> {
  if (stepsGraphOf(model) === 'decoder-loop') {
    // One Loop serves every k (the run's length is the uniforms' second axis).
    const key = {
      graph: stepsGraph(0, truncations),
      file: model.modelFile,
      provider: model.provider,
      threads: model.threads,
    };
    return cachedSession(
      key,
      () => decoderLoopBytes(model, truncations),
      decoderLoopSessionConfig(model),
    ).then((x) => {
      builtFor.add(builtKey(model, key.graph));
      return x;
    });
  }
  const key = {
    graph: stepsGraph(steps, truncations),
    file: model.modelFile,
    provider: model.provider,
    threads: model.threads,
  };
  const session = cachedSession(key, (decoderFile) => {
    const shared = sharedWeights(model);
    if (shared) return writeBesideDecoder(model, decoderFile, shared, steps, truncations);
    const ckpt = loadCheckpoint(model.dir, { weightsOnly: true });
    const graph = buildDecodeStepsGraph(ckpt.config, ckpt.params, {
      steps,
      truncations,
      tokenizerVocabSize: Math.min(model.tokenizer.vocabSize, ckpt.config.vocabSize),
    });
    return toBytes(graph);
  });
  return session.then((x) => {
    builtFor.add(builtKey(model, key.graph));
    return x;
  });
}

/**
 * The external data references of the decoder's weights when the decoder is a graph the engine built
 * for a Hugging Face folder (graph-from-weights.ts, outside the folder) and keeps its weights in an
 * external data file; null otherwise.
 */
function sharedWeights(model: GenerationModel): Map<string, ExternalRef> | null {
  const inFolder = !path.relative(path.resolve(model.dir), path.resolve(model.modelFile)).startsWith('..');
  if (inFolder || !existsSync(path.join(path.dirname(model.modelFile), CHECKPOINT_FILES.onnxData)))
    return null;
  const refs = externalRefsOf(readFileSync(model.modelFile));
  return refs.size > 0 ? refs : null;
}

/**
 * Writes the decode-steps graph next to the decoder built from the same weights, its weights
 * referring to the decoder's external data file (no second copy on disk, and no 2 GiB message), and
 * returns its path. The weights are not read: a referenced weight is an untouched zero buffer here
 * (the allocator maps its pages lazily), and the few small ones the decoder keeps inline come from it.
 * Written under a temporary name and renamed, so workers building the same graph never see half a file.
 */
function writeBesideDecoder(
  model: GenerationModel,
  decoderFile: string,
  refs: Map<string, ExternalRef>,
  steps: number,
  truncations: TruncationFlags,
): string {
  const configFile = path.join(model.dir, CHECKPOINT_FILES.config);
  const config = parseConfigJson(JSON.parse(readFileSync(configFile, 'utf8')), configFile);
  const decoderBytes = readFileSync(decoderFile);
  const inline = inlineFloatsOf(decoderBytes);
  const params: Params = new Map();
  for (const s of paramSpecs(config)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = refs.has(s.name) ? new Float32Array(n) : inline.get(s.name);
    if (!data || data.length !== n) throw new Error(`${decoderFile}: no weight ${s.name} of ${n} values`);
    params.set(s.name, data);
  }
  const graph = buildDecodeStepsGraph(config, params, {
    steps,
    truncations,
    tokenizerVocabSize: Math.min(model.tokenizer.vocabSize, config.vocabSize),
  });
  const name = ['decode-steps', steps, ...truncationNames(truncations)].join('-');
  const out = path.join(path.dirname(decoderFile), `${name}.onnx`);
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, serialize(graph, { externalRefs: refs }).model);
  renameSync(tmp, out);
  return out;
}

/** Releases the decode-steps sessions only; the decoders' stay cached. */
export function releaseDecodeStepsSessions(): Promise<void> {
  builtFor.clear();
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
  /** 0 = off (a graph built without top-k); above the vocabulary it keeps every token. */
  topK: number;
  /** 1 = off (a graph built without top-p). */
  topP: number;
  /** 0 = off (a graph built without min-p). */
  minP: number;
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
    [DECODE_STEPS_IO.uniforms]: new ort.Tensor('float64', f.uniforms, [rows, steps]),
    [DECODE_STEPS_IO.inverseTemperature]: new ort.Tensor(
      'float64',
      Float64Array.of(f.temperature > 0 ? 1 / f.temperature : 1),
      [],
    ),
  };
  // The engine's decoders take positions; a wrapped export only where its decoder does.
  if (sig.hasPositionIds) feeds.position_ids = int64(f.positions, [rows, 1]);
  if (f.topK > 0)
    // TopK's k is at most the vocabulary; a larger k keeps every token, as the host's top-k does.
    feeds[DECODE_STEPS_IO.topK] = int64([Math.min(f.topK, model.logitsSize)], [1]);
  if (f.topP !== 1) feeds[DECODE_STEPS_IO.topP] = new ort.Tensor('float64', Float64Array.of(f.topP), []);
  // ln(min_p) as min-p's processor computes it, so the graph's cut is the host's.
  if (f.minP !== 0)
    feeds[DECODE_STEPS_IO.logMinP] = new ort.Tensor('float64', Float64Array.of(Math.log(f.minP)), []);
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
