import { Graph, type Tensor } from '../onnx/graph';
import * as o from '../onnx/ops';
import { type LlamaConfig, headDim } from './config';
import { DIMS } from './inference-graph';
import { type KeyValue, type Weights, attentionInputs, linear, mlp, proj, rmsNorm } from './llama';
import { rotaryAngles } from './rope';
import { type TruncationFlags, type Truncations, drawConstants, drawToken } from './draw-in-graph';
import { type Params, paramSpecs } from './params';

/** Inputs and outputs of the decode-steps graph beyond the Optimum decoder's own. */
export const DECODE_STEPS_IO = {
  /** [batch, steps] float64: row r's uniform number for its step j; negative = greedy (argmax). */
  uniforms: 'uniforms',
  /** [] float64: 1 / temperature (1 when greedy). */
  inverseTemperature: 'inverse_temperature',
  /**
   * int64 [1]: keep tokens with fewer than top_k strictly larger logits (graphs built with topK); at
   * most the vocabulary size (TopK's k).
   */
  topK: 'top_k',
  /** [] float64: top_p in (0, 1) (graphs built with topP). */
  topP: 'top_p',
  /** [] float64: Math.log(min_p), computed on the host as min-p's processor does (graphs built with minP). */
  logMinP: 'log_min_p',
  /** [batch, steps] int64: the token chosen at each step. */
  tokens: 'tokens',
  /** [batch, steps] float32: its processed logit. */
  chosenLogits: 'chosen_logits',
  /** [batch, steps] float32: the largest processed logit. */
  maxLogits: 'max_logits',
  /** [batch, steps] float64: sum over tokens of exp(processed logit - max), in id order. */
  totals: 'totals',
} as const;

export interface DecodeStepsOptions {
  /** Decode steps unrolled into one run. */
  steps: number;
  /** Ids at or above it are never chosen (a vocabulary padded past the tokenizer's). */
  tokenizerVocabSize: number;
  /** Which truncations the graph applies; each has an input (top_k, top_p, log_min_p) only when on. */
  truncations: TruncationFlags;
}

/** The graph inputs of the truncations in `flags`, named as DECODE_STEPS_IO names them. */
export function truncationInputs(g: Graph, flags: TruncationFlags): Truncations {
  return {
    topK: flags.topK ? g.input(DECODE_STEPS_IO.topK, 'int64', [1]) : null,
    topP: flags.topP ? g.input(DECODE_STEPS_IO.topP, 'float64', []) : null,
    logMinP: flags.minP ? g.input(DECODE_STEPS_IO.logMinP, 'float64', []) : null,
  };
}

/**
 * One token per row through the decoder, attending to a past that stays as it was fed (never
 * copied) plus the keys and values of the tokens decoded earlier in this run (`chunk`, a few
 * columns). The softmax spans both without concatenating them, so its last bits may differ from the
 * inference graph's.
 */
function decodeForward(
  c: LlamaConfig,
  w: Weights,
  inputIds: Tensor,
  positionIds: Tensor,
  pastBias: Tensor,
  past: readonly KeyValue[],
  chunk: KeyValue[],
  chunkBias: Tensor | null,
): Tensor {
  const d = headDim(c);
  const kvh = c.nKvHeads;
  const groups = c.nHeads / kvh;
  const embed = w['model.embed_tokens.weight'];
  const rot = rotaryAngles(positionIds, c, embed.dtype);
  let x = o.gather(embed, inputIds); // [B, 1, C]
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}`;
    const a = `${p}.self_attn`;
    const h = rmsNorm(x, w[`${p}.input_layernorm.weight`], c.rmsNormEps);
    // q [B, KV, G, 1, D] as in the inference graph, so rotary broadcasts the same way; k, v [B, KV, 1, D].
    const { q: qr, k, v } = attentionInputs(c, w, a, h, rot);
    chunk[i] = chunk[i]
      ? { key: o.concat([chunk[i].key, k], 2), value: o.concat([chunk[i].value, v], 2) }
      : { key: k, value: v };
    // Every product has the batch axes [B, KV] on both sides (a broadcast one makes onnxruntime
    // run one small GEMM per query head), and scores are [B, KV, G, keys] so every broadcast in
    // the softmax is over whole rows.
    const q3 = o.reshape(qr, [0, kvh, groups, d]); // [B, KV, G, D]
    const qT = o.transpose(q3, [0, 1, 3, 2]); // [B, KV, D, G]
    // K·qᵀ, then the small [keys, G] result transposed: onnxruntime's q·Kᵀ (a transposed B per
    // [B, KV] pair) packs the keys on every call, which cost more than all the model's weights
    // (measured in engine/generate/README.md).
    const scores = (keys: Tensor) => o.transpose(o.div(o.matmul(keys, qT), Math.sqrt(d)), [0, 1, 3, 2]); // [B, KV, G, keys]
    const sp = o.add(scores(past[i].key), pastBias); // [B, KV, G, P]
    // [B, KV, G, n]: the run's own tokens are always real (but may lie outside a sliding window).
    const sc = chunkBias ? o.add(scores(chunk[i].key), chunkBias) : scores(chunk[i].key);
    // softmax over [past, chunk] without concatenating them: one max, one sum, two products.
    const m = o.max(o.reduceMax(sp, [3], true), o.reduceMax(sc, [3], true)); // [B, KV, G, 1]
    const ep = o.exp(o.sub(sp, m));
    const ec = o.exp(o.sub(sc, m));
    const den = o.add(o.reduceSum(ep, [3], true), o.reduceSum(ec, [3], true));
    const ctx = o.div(o.add(o.matmul(ep, past[i].value), o.matmul(ec, chunk[i].value)), den); // [B, KV, G, D]
    const merged = o.reshape(ctx, [0, 1, c.nHeads * d]);
    x = o.add(x, proj(w, `${a}.o_proj`, merged, c.outputBias));
    x = o.add(x, mlp(c, w, p, rmsNorm(x, w[`${p}.post_attention_layernorm.weight`], c.rmsNormEps)));
  }
  const final = rmsNorm(x, w['model.norm.weight'], c.rmsNormEps);
  return linear(final, c.tieEmbeddings ? embed : w['lm_head.weight']); // [B, 1, V]
}

/**
 * `steps` decode steps in one graph, so the KV cache stays inside onnxruntime between them (and is
 * copied once per run, not once per step). Each step is the decoder for one token per row, then the
 * sampler's processors and draw (draw-in-graph.ts) with the row's host-supplied uniform; its token
 * is the next step's input. The draw needs no [V, V] product (TopK, CumSum; top-p finds its
 * nucleus in stages and sorts the vocabulary only when they do not, see topPStages in
 * draw-in-graph.ts), so the logits of a 152K-token vocabulary never leave onnxruntime either.
 *
 * Inputs: input_ids [B, 1], attention_mask [B, P] (the past only), position_ids [B, 1],
 * past_key_values.*, and DECODE_STEPS_IO's uniforms, inverse_temperature and, where the graph is
 * built with them, top_k, top_p and log_min_p. Outputs: DECODE_STEPS_IO's per-step tensors and
 * present.* after all steps ([B, KV, P + steps, D]: the last chosen token is not in it, it is the
 * next run's input).
 */
export function buildDecodeStepsGraph(c: LlamaConfig, params: Params, opts: DecodeStepsOptions): Graph {
  const { steps } = opts;
  if (!(Number.isInteger(steps) && steps >= 1)) throw new RangeError(`decode steps: ${steps}, need >= 1`);
  const V = c.vocabSize;
  const g = new Graph('llama_decode_steps');
  const d = headDim(c);
  let token = g.input('input_ids', 'int64', [DIMS.batch, 1]);
  const mask = g.input('attention_mask', 'int64', [DIMS.batch, DIMS.past]);
  const position = g.input('position_ids', 'int64', [DIMS.batch, 1]);
  const past: KeyValue[] = [];
  const chunk: KeyValue[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const shape = [DIMS.batch, c.nKvHeads, DIMS.past, d];
    past.push({
      key: g.input(`past_key_values.${i}.key`, 'float32', shape),
      value: g.input(`past_key_values.${i}.value`, 'float32', shape),
    });
  }
  const uniforms = g.input(DECODE_STEPS_IO.uniforms, 'float64', [DIMS.batch, steps]);
  const invT = g.input(DECODE_STEPS_IO.inverseTemperature, 'float64', []);
  const truncations = truncationInputs(g, opts.truncations);
  const w: Record<string, Tensor> = {};
  for (const s of paramSpecs(c)) {
    const data = params.get(s.name);
    if (!data) throw new Error(`buildDecodeStepsGraph: missing weight ${s.name}`);
    w[s.name] = g.initializer(s.name, 'float32', s.shape, data);
  }

  const draw = drawConstants(g, V, opts.tokenizerVocabSize);
  // 0 on real past columns, -1e9 on padding (a large finite value, as in the inference graph).
  const pastBias = o.unsqueeze(o.mul(o.sub(o.cast(mask, 'float32'), 1), 1e9), [1, 2]); // [B, 1, 1, P]
  const per: Record<'tokens' | 'chosen' | 'max' | 'total', Tensor[]> = {
    tokens: [],
    chosen: [],
    max: [],
    total: [],
  };
  // Sliding window (Mistral), as the inference graph masks it: the query at column P + j (the past's
  // P columns, then the run's tokens) sees column s only when s > P + j - window. Past columns are
  // the same positions in every row (rows are right-aligned).
  const window = c.slidingWindow;
  const pastLen = o.gather(o.shapeOf(mask), g.scalar(1, 'int64')); // []
  // [B, P]: each past column's index (a running count of ones shaped like the mask).
  const pastColumns =
    window === null ? null : o.sub(o.cumSum(o.full(mask, o.shapeOf(mask), 1, 'int64'), 1), 1);
  for (let j = 0; j < steps; j++) {
    const positionIds = j === 0 ? position : o.add(position, j);
    let stepPastBias = pastBias;
    let chunkBias: Tensor | null = null;
    if (window !== null && pastColumns) {
      const seen = o.greater(pastColumns, o.add(pastLen, j - window)); // [B, P]
      stepPastBias = o.add(pastBias, o.unsqueeze(o.where(seen, g.scalar(0, 'float32'), -1e9), [1, 2]));
      // The run's token i (column P + i) is out of the window once i <= j - window.
      if (j - window >= 0)
        chunkBias = g.constant(
          'float32',
          [j + 1],
          Float32Array.from({ length: j + 1 }, (_, i) => (i > j - window ? 0 : -1e9)),
        );
    }
    const forward = decodeForward(c, w, token, positionIds, stepPastBias, past, chunk, chunkBias);
    const l = o.reshape(forward, [0, V]); // [B, V]
    const u = o.slice(uniforms, [j], [j + 1], [1]); // [B, 1]
    const chosen = drawToken(draw, l, u, invT, truncations);
    per.chosen.push(chosen.chosenLogit);
    per.max.push(chosen.maxLogit);
    per.total.push(chosen.total);
    token = o.cast(chosen.token, 'int64');
    per.tokens.push(token);
  }
  const cat = (ts: Tensor[]) => (ts.length === 1 ? ts[0] : o.concat(ts, 1));
  g.output(cat(per.tokens), DECODE_STEPS_IO.tokens);
  g.output(cat(per.chosen), DECODE_STEPS_IO.chosenLogits);
  g.output(cat(per.max), DECODE_STEPS_IO.maxLogits);
  g.output(cat(per.total), DECODE_STEPS_IO.totals);
  past.forEach((kv, i) => {
    g.output(o.concat([kv.key, chunk[i].key], 2), `present.${i}.key`);
    g.output(o.concat([kv.value, chunk[i].value], 2), `present.${i}.value`);
  });
  return g;
}
