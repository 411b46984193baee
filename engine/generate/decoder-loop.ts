import { readFileSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { type TruncationFlags, drawConstants, drawToken } from '../model/draw-in-graph';
import { DECODE_STEPS_IO, truncationInputs } from '../model/decode-graph';
import { Graph } from '../onnx/graph';
import { toModelProto } from '../onnx/serialize';
import type { GenerationModel } from './load';
import { int64s, node, renameValues, topologicalOrder, valueInfo } from './onnx-edit';

/**
 * The decode-steps graph of a decoder the engine did not build (an Optimum or onnxruntime-genai
 * export, or any onnx/model.onnx a user brings): the decoder's own graph, unchanged, becomes the body
 * of an ONNX `Loop` that runs one decode step per iteration, draws the next token after `logits` with
 * the sampler's in-graph draw (engine/model/draw-in-graph.ts) and feeds it, the grown attention mask,
 * the next position and `present` back as the next iteration's inputs. So logits never leave
 * onnxruntime, the cache crosses into JS once per run instead of once per token, and every step runs
 * the very graph the one-step loop runs, on the same past: its logits are the one-step loop's.
 *
 * Inputs and outputs are the engine's decode-steps graph's (engine/model/decode-graph.ts): input_ids
 * [B, 1], attention_mask [B, P] (the past only), position_ids [B, 1] (when the decoder takes them),
 * past_key_values.*, DECODE_STEPS_IO's uniforms [B, steps] (the run's length is their second axis:
 * one graph serves every k), inverse_temperature and the truncations' (top_k, top_p, log_min_p);
 * out come DECODE_STEPS_IO's per-step tensors and present.* after the run.
 */

/** Reduce* ops other than ReduceSum take their axes as an attribute before opset 18. */
const AXES_ATTR_BEFORE_18 = new Set(['ReduceMax', 'ReduceMin', 'ReduceMean', 'ReduceProd', 'ReduceL2']);

const T = onnx.TensorProto.DataType;

const decoderOpset = (m: onnx.IModelProto): number =>
  Number(m.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);

/** What the sampler checks of an export before wrapping it, per file version (a real export is large). */
interface Inspection {
  opset: number;
  /** Inputs that are not initializers (old IR versions list the weights among the inputs), with their element types. */
  inputs: { name: string; elemType: number }[];
  /** Bytes of the weights, inline and external: what a second session holds again. */
  weightBytes: number;
  /** Of those, the bytes inside the model file, which building the Loop decodes and re-encodes. */
  inlineBytes: number;
}
const inspected = new Map<string, Inspection | Error>();

function inspect(modelFile: string): Inspection | Error {
  const real = realpathSync(modelFile);
  const st = statSync(real);
  const key = `${real}|${st.size}|${st.mtimeMs}`;
  let hit = inspected.get(key);
  if (hit === undefined) {
    try {
      const m = onnx.ModelProto.decode(readFileSync(real));
      const initializers = m.graph?.initializer ?? [];
      const weights = new Set(initializers.map((t) => t.name));
      let weightBytes = 0;
      let inlineBytes = 0;
      for (const t of initializers)
        if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
          weightBytes += Number(t.externalData?.find((e) => e.key === 'length')?.value ?? 0);
        else {
          weightBytes += t.rawData?.byteLength ?? 0;
          inlineBytes += t.rawData?.byteLength ?? 0;
        }
      hit = {
        opset: decoderOpset(m),
        inputs: (m.graph?.input ?? [])
          .filter((i) => !weights.has(i.name))
          .map((i) => ({ name: i.name ?? '', elemType: i.type?.tensorType?.elemType ?? 0 })),
        weightBytes,
        inlineBytes,
      };
    } catch (e) {
      hit = e as Error;
    }
    inspected.set(key, hit);
  }
  return hit;
}

/** Why the decoder's graph cannot be wrapped in the decode-steps Loop, or null when it can. */
export function decoderLoopUnavailable(model: GenerationModel): string | null {
  const d = inspect(model.modelFile);
  if (d instanceof Error) return `${model.modelFile} could not be read as an ONNX model: ${d.message}`;
  if (d.opset < 13) return `the decoder's opset is ${d.opset}; the in-graph draw needs 13 or later`;
  const fed = new Set([
    'input_ids',
    'attention_mask',
    'position_ids',
    'use_cache_branch',
    ...model.signature.pastNames,
  ]);
  for (const { name, elemType } of d.inputs) {
    if (!fed.has(name)) return `the decoder takes an input the sampler does not feed: ${name}`;
    if (['input_ids', 'attention_mask', 'position_ids'].includes(name) && elemType !== Number(T.INT64))
      return `the decoder's ${name} is not int64`;
  }
  return null;
}

/**
 * Bytes of the decoder's weights (inline and external), what a second session holds again, and of
 * the inline ones, which building the Loop holds twice more for a moment (the file read, and the
 * Loop encoded from it).
 */
export function decoderWeightBytes(modelFile: string): { weights: number; inline: number } {
  const d = inspect(modelFile);
  return d instanceof Error ? { weights: 0, inline: 0 } : { weights: d.weightBytes, inline: d.inlineBytes };
}

export interface DecoderLoopOptions {
  /** Which truncations the draw applies (each then an input of the Loop). */
  truncations: TruncationFlags;
  /** Ids at or above it are never chosen (a vocabulary padded past the tokenizer's). */
  tokenizerVocabSize: number;
  /** The logits' last axis. */
  vocab: number;
  /**
   * The largest position the decoder's position tables hold (max_position_embeddings − 1), when
   * known: a row's tokens after its stop in a run (discarded) must not index past them.
   */
  maxPosition: number | null;
  /** past_key_values.* in layer order, and the matching present.*. */
  pastNames: readonly string[];
  presentNames: readonly string[];
}

/**
 * The decode-steps Loop of `model`'s decoder, as model bytes. onnxruntime loads them with the
 * decoder's folder as the folder of their external data (`decoderLoopSessionConfig`), so the
 * weights are read from the decoder's own files: a derived model on disk would need its external
 * data beside it, and onnxruntime refuses external data behind a symbolic link, so it would be a
 * second copy of the weights. Building it only re-encodes the graph (the weights stay where they
 * are unless the export keeps them inline), so it is not cached on disk.
 */
export function decoderLoopBytes(model: GenerationModel, truncations: TruncationFlags): Uint8Array {
  const decoder = onnx.ModelProto.decode(readFileSync(model.modelFile));
  return onnx.ModelProto.encode(
    buildDecoderLoop(decoder, {
      truncations,
      tokenizerVocabSize: Math.min(model.tokenizer.vocabSize, model.logitsSize),
      vocab: model.logitsSize,
      maxPosition: model.maxPositions === null ? null : model.maxPositions - 1,
      pastNames: model.signature.pastNames,
      presentNames: model.signature.presentNames,
    }),
  ).finish();
}

/** onnxruntime's session config for a decoder's Loop loaded from bytes: where its external data lies. */
export function decoderLoopSessionConfig(model: GenerationModel): Record<string, unknown> {
  return {
    session: { model_external_initializers_file_folder_path: path.dirname(realpathSync(model.modelFile)) },
  };
}

/** The in-graph draw as ONNX nodes for the decoder's opset, its values named under `draw/`. */
function drawNodes(
  opts: DecoderLoopOptions,
  opset: number,
  inputs: { logits: string; u: string },
): {
  nodes: onnx.INodeProto[];
  initializers: onnx.ITensorProto[];
  token: string;
  chosenLogit: string;
  maxLogit: string;
  total: string;
} {
  const g = new Graph('draw');
  const logits = g.input('logits', 'float32', ['batch', opts.vocab]);
  const u = g.input('u', 'float64', ['batch', 1]);
  const invT = g.input(DECODE_STEPS_IO.inverseTemperature, 'float64', []);
  const truncations = truncationInputs(g, opts.truncations);
  const d = drawToken(drawConstants(g, opts.vocab, opts.tokenizerVocabSize), logits, u, invT, truncations);
  const { proto } = toModelProto(g);
  const graph = proto.graph!;
  // Graph inputs map to the body's values; inverse_temperature and the truncations' are the outer
  // graph's inputs, which the body reads from the enclosing scope. Everything else is the draw's own.
  const rename = new Map<string, string>([
    ['logits', inputs.logits],
    ['u', inputs.u],
  ]);
  const outer = new Set([invT.name, ...Object.values(truncations).flatMap((t) => (t ? [t.name] : []))]);
  const own = (n: string) => (rename.has(n) || outer.has(n) || n === '' ? n : `draw/${n}`);
  for (const t of graph.initializer ?? []) rename.set(t.name!, own(t.name!));
  for (const n of graph.node ?? []) for (const o of n.output ?? []) rename.set(o, own(o));
  let initializers = (graph.initializer ?? []).map((t) => ({ ...t, name: rename.get(t.name!) }));
  const values = new Map(initializers.map((t) => [t.name!, t]));
  const nodes: onnx.INodeProto[] = (graph.node ?? []).map((n) => ({
    ...n,
    name: `draw/${n.name}`,
    input: (n.input ?? []).map((i) => rename.get(i) ?? i),
    output: (n.output ?? []).map((o) => rename.get(o) ?? o),
  }));
  if (opset < 18)
    for (const n of nodes)
      if (AXES_ATTR_BEFORE_18.has(n.opType ?? '') && (n.input ?? []).length > 1) {
        const axes = values.get(n.input![1]);
        if (!axes) throw new Error(`draw: ${n.opType}'s axes are not a constant`);
        n.input = [n.input![0]];
        n.attribute = [
          ...(n.attribute ?? []),
          { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: axesOf(axes) },
        ];
      }
  // Axes that became attributes leave their constants unused.
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  initializers = initializers.filter((t) => used.has(t.name!));
  const name = (t: { name: string }) => rename.get(t.name) ?? t.name;
  return {
    nodes,
    initializers,
    token: name(d.token),
    chosenLogit: name(d.chosenLogit),
    maxLogit: name(d.maxLogit),
    total: name(d.total),
  };
}

function axesOf(t: onnx.ITensorProto): number[] {
  if (t.int64Data?.length) return t.int64Data.map(Number);
  const raw = t.rawData!;
  return Array.from(
    new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
    Number,
  );
}

/** The decode-steps Loop around a decoder's graph (see the top of this file). */
export function buildDecoderLoop(decoder: onnx.IModelProto, opts: DecoderLoopOptions): onnx.IModelProto {
  const opset = decoderOpset(decoder);
  const dg = decoder.graph!;
  const inputNames = new Set((dg.input ?? []).map((i) => i.name));
  const hasPositionIds = inputNames.has('position_ids');
  const logitsInfo = (dg.output ?? []).find((o) => o.name === 'logits');
  const logitsType: number = logitsInfo?.type?.tensorType?.elemType ?? T.FLOAT;
  const logitsRank = logitsInfo?.type?.tensorType?.shape?.dim?.length ?? 3;
  const pastType =
    (dg.input ?? []).find((i) => i.name === opts.pastNames[0])?.type?.tensorType?.elemType ?? T.FLOAT;

  // The body's own names for the decoder's inputs and outputs: the outer graph uses the decoder's.
  const carried = {
    token: 'loop/input_ids',
    mask: 'loop/attention_mask',
    position: 'loop/position_ids',
    past: opts.pastNames.map((n) => `loop/${n}`),
  };
  const rename = new Map<string, string>([
    ['input_ids', carried.token],
    ['attention_mask', 'step/attention_mask'],
    ['position_ids', 'step/position_ids'],
    ['use_cache_branch', 'step/use_cache_branch'],
    ['logits', 'step/logits'],
  ]);
  opts.pastNames.forEach((n, i) => rename.set(n, carried.past[i]));
  opts.presentNames.forEach((n) => rename.set(n, `step/${n}`));
  // The decoder's nodes are renamed in place: the caller hands over a freshly decoded model.
  const decoderNodes = dg.node ?? [];
  renameValues(decoderNodes, rename);

  const body: onnx.INodeProto[] = [];
  const bodyInitializers: onnx.ITensorProto[] = [int64s('step/axis1', [1]), int64s('step/one', [1], [])];
  // The mask gains a column for the token this step feeds.
  body.push(node('Shape', [carried.token], ['step/token_shape']));
  body.push(
    node(
      'ConstantOfShape',
      ['step/token_shape'],
      ['step/ones'],
      [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: int64s('', [1]) }],
    ),
  );
  body.push(
    node(
      'Concat',
      [carried.mask, 'step/ones'],
      ['step/attention_mask'],
      [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
    ),
  );
  if (hasPositionIds) {
    if (opts.maxPosition !== null) {
      // A row's tokens after its stop in this run are discarded; they must not index past the
      // position tables (the rows that count never get there).
      bodyInitializers.push(int64s('step/max_position', [opts.maxPosition], []));
      body.push(node('Min', [carried.position, 'step/max_position'], ['step/position_ids']));
    } else body.push(node('Identity', [carried.position], ['step/position_ids']));
  }
  if (inputNames.has('use_cache_branch'))
    body.push(
      node(
        'Constant',
        [],
        ['step/use_cache_branch'],
        [
          {
            name: 'value',
            type: onnx.AttributeProto.AttributeType.TENSOR,
            t: { dataType: T.BOOL, dims: [1], int32Data: [1] },
          },
        ],
      ),
    );
  body.push(...topologicalOrder(decoderNodes));
  // This step's logits at the last position, as float32 (fp16 → float32 is exact, as the host's table).
  let logits = 'step/logits';
  if (logitsRank === 3) {
    body.push(node('Squeeze', [logits, 'step/axis1'], ['step/logits_last']));
    logits = 'step/logits_last';
  }
  if (logitsType !== Number(T.FLOAT)) {
    body.push(
      node(
        'Cast',
        [logits],
        ['step/logits32'],
        [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT }],
      ),
    );
    logits = 'step/logits32';
  }
  // Row r's uniform for this step: column `iteration` of the fed uniforms.
  body.push(node('Reshape', ['loop/iteration', 'step/axis1'], ['step/column']));
  body.push(
    node(
      'Gather',
      [DECODE_STEPS_IO.uniforms, 'step/column'],
      ['step/u'],
      [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
    ),
  );
  const draw = drawNodes(opts, opset, { logits, u: 'step/u' });
  body.push(...draw.nodes);
  bodyInitializers.push(...draw.initializers);
  body.push(
    node(
      'Cast',
      [draw.token],
      ['step/next_token'],
      [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.INT64 }],
    ),
  );
  if (hasPositionIds) body.push(node('Add', [carried.position, 'step/one'], ['step/next_position']));
  body.push(node('Identity', ['loop/cond'], ['step/cond']));
  const scan = {
    tokens: 'step/scan_token',
    chosen: 'step/scan_chosen',
    max: 'step/scan_max',
    total: 'step/scan_total',
  };
  body.push(node('Identity', ['step/next_token'], [scan.tokens]));
  body.push(node('Identity', [draw.chosenLogit], [scan.chosen]));
  body.push(node('Identity', [draw.maxLogit], [scan.max]));
  body.push(node('Identity', [draw.total], [scan.total]));

  const carriedIn = [
    carried.token,
    carried.mask,
    ...(hasPositionIds ? [carried.position] : []),
    ...carried.past,
  ];
  const carriedOut = [
    'step/next_token',
    'step/attention_mask',
    ...(hasPositionIds ? ['step/next_position'] : []),
    ...opts.presentNames.map((n) => `step/${n}`),
  ];
  const carriedTypes = [
    T.INT64,
    T.INT64,
    ...(hasPositionIds ? [T.INT64] : []),
    ...carried.past.map(() => pastType),
  ];
  const bodyGraph: onnx.IGraphProto = {
    name: 'decode_step',
    node: body,
    // The decoder's weights live in the body, where its nodes use them, so onnxruntime optimises
    // and prepacks them as it does in the decoder's own session.
    initializer: [...(dg.initializer ?? []), ...bodyInitializers],
    sparseInitializer: dg.sparseInitializer ?? [],
    input: [
      valueInfo('loop/iteration', T.INT64, []),
      valueInfo('loop/cond', T.BOOL, []),
      ...carriedIn.map((n, i) => valueInfo(n, carriedTypes[i])),
    ],
    output: [
      valueInfo('step/cond', T.BOOL, []),
      ...carriedOut.map((n, i) => valueInfo(n, carriedTypes[i])),
      valueInfo(scan.tokens, T.INT64),
      valueInfo(scan.chosen, T.FLOAT),
      valueInfo(scan.max, T.FLOAT),
      valueInfo(scan.total, T.DOUBLE),
    ],
  };

  const outer: onnx.INodeProto[] = [
    node('Shape', [DECODE_STEPS_IO.uniforms], ['run/uniforms_shape']),
    node(
      'Gather',
      ['run/uniforms_shape', 'run/axis1'],
      ['run/steps'],
      [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
    ),
    node(
      'Constant',
      [],
      ['run/true'],
      [
        {
          name: 'value',
          type: onnx.AttributeProto.AttributeType.TENSOR,
          t: { dataType: T.BOOL, dims: [], int32Data: [1] },
        },
      ],
    ),
    node(
      'Loop',
      [
        'run/steps',
        'run/true',
        'input_ids',
        'attention_mask',
        ...(hasPositionIds ? ['position_ids'] : []),
        ...opts.pastNames,
      ],
      [
        'run/last_token',
        'run/attention_mask',
        ...(hasPositionIds ? ['run/last_position'] : []),
        ...opts.presentNames,
        'run/tokens',
        'run/chosen',
        'run/max',
        'run/total',
      ],
      [{ name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: bodyGraph }],
    ),
  ];
  // Scan outputs are [steps, B, 1]; the host reads [B, steps].
  const perm = [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0, 2] }];
  outer.push(node('Transpose', ['run/tokens'], [DECODE_STEPS_IO.tokens], perm));
  outer.push(node('Transpose', ['run/chosen'], [DECODE_STEPS_IO.chosenLogits], perm));
  outer.push(node('Transpose', ['run/max'], [DECODE_STEPS_IO.maxLogits], perm));
  outer.push(node('Transpose', ['run/total'], [DECODE_STEPS_IO.totals], perm));

  const graph: onnx.IGraphProto = {
    name: 'decoder_loop',
    node: outer,
    initializer: [int64s('run/axis1', [1], [])],
    input: [
      valueInfo('input_ids', T.INT64, ['batch', 1]),
      valueInfo('attention_mask', T.INT64, ['batch', 'past']),
      ...(hasPositionIds ? [valueInfo('position_ids', T.INT64, ['batch', 1])] : []),
      ...opts.pastNames.map((n) => valueInfo(n, pastType)),
      valueInfo(DECODE_STEPS_IO.uniforms, T.DOUBLE, ['batch', 'steps']),
      valueInfo(DECODE_STEPS_IO.inverseTemperature, T.DOUBLE, []),
      ...(opts.truncations.topK ? [valueInfo(DECODE_STEPS_IO.topK, T.INT64, [1])] : []),
      ...(opts.truncations.topP ? [valueInfo(DECODE_STEPS_IO.topP, T.DOUBLE, [])] : []),
      ...(opts.truncations.minP ? [valueInfo(DECODE_STEPS_IO.logMinP, T.DOUBLE, [])] : []),
    ],
    output: [
      valueInfo(DECODE_STEPS_IO.tokens, T.INT64),
      valueInfo(DECODE_STEPS_IO.chosenLogits, T.FLOAT),
      valueInfo(DECODE_STEPS_IO.maxLogits, T.FLOAT),
      valueInfo(DECODE_STEPS_IO.totals, T.DOUBLE),
      ...opts.presentNames.map((n) => valueInfo(n, pastType)),
    ],
  };
  return {
    irVersion: decoder.irVersion,
    producerName: 'lmsi decoder-loop',
    opsetImport: decoder.opsetImport,
    ...(decoder.functions?.length ? { functions: decoder.functions } : {}),
    graph,
  };
}
