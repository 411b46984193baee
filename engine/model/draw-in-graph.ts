import type { Graph, Tensor } from '../onnx/graph';
import * as o from '../onnx/ops';

/** Constants the draw needs, made once per graph. */
export interface DrawConstants {
  vocab: number;
  /** [V] float32: 0 for ids the tokenizer has, -inf above; null when it has them all. */
  removed: Tensor | null;
}

export function drawConstants(g: Graph, vocab: number, tokenizerVocabSize: number): DrawConstants {
  return {
    vocab,
    removed:
      tokenizerVocabSize < vocab
        ? g.constant(
            'float32',
            [vocab],
            Float32Array.from({ length: vocab }, (_, i) => (i < tokenizerVocabSize ? 0 : -Infinity)),
          )
        : null,
  };
}

export interface Draw {
  /** [B, 1] float32 (ids are exact): the chosen token. */
  token: Tensor;
  /** [B, 1] float32: its processed logit. */
  chosenLogit: Tensor;
  /** [B, 1] float32: the largest processed logit. */
  maxLogit: Tensor;
  /** [B, 1] float64: sum of exp(processed logit - max) in id order. */
  total: Tensor;
}

/**
 * The truncations the draw applies after temperature, each a graph input or null when the graph is
 * built without it: topK int64 [1] (at most V; the caller clamps it), topP [] float64 in (0, 1),
 * logMinP [] float64, Math.log(min_p) computed on the host (so the cut is the host's to the bit).
 */
export interface Truncations {
  topK: Tensor | null;
  topP: Tensor | null;
  logMinP: Tensor | null;
}

/** Which truncations a draw graph applies (each then has its input; see `Truncations`). */
export interface TruncationFlags {
  topK: boolean;
  topP: boolean;
  minP: boolean;
}

export const NO_TRUNCATIONS: TruncationFlags = { topK: false, topP: false, minP: false };

/**
 * How many tokens top-p ranks (TopK) before it ranks more: a nucleus within the first 1 024 needs
 * no sort of the vocabulary, and TopK's cost grows with k (at 32 rows of 152K tokens, k = 16 384
 * costs a few times k = 1 024, a full sort several times more: docs/progress/2026-12-06-real-size.md),
 * so each stage runs only when some row's nucleus is larger than the stage before it reached, and
 * the whole vocabulary is sorted last. A later stage above a quarter of the vocabulary is skipped
 * (it would cost nearly the full sort).
 */
export const TOP_P_STAGES: readonly number[] = [1024, 16384];

/**
 * The sampler's processors and draw (engine/generate's untokenizable, temperature, top-k, top-p,
 * min-p and chooseToken) with the host's arithmetic, so the same logits and uniform choose the
 * same token: untokenizable ids to -inf; logits × (1/T) in float64 rounded to float32; top-k keeps a token when
 * its logit is at least the k-th largest (the least of TopK's values), i.e. when fewer than k logits are
 * strictly larger (ties with the k-th kept); top-p and min-p as `topPInGraph` and `minPInGraph`; then
 * the first token whose running sum of exp(l - max)
 * (float64, id order, CumSum adds one element after another as the host's loop does) exceeds
 * u · total (kept a rounding below the total, so one always does); a negative u takes the first
 * argmax (greedy). Every step but top-p's is linear in the vocabulary: no [V, V] product, so it
 * serves 152K-token vocabularies as well as character-level ones; top-p ranks the top 1 024 tokens
 * and sorts the vocabulary only for a batch where some row's nucleus is larger.
 *
 * logits [B, V] float32, u [B, 1] float64, inverseTemperature [] float64.
 */
export function drawToken(
  k: DrawConstants,
  logits: Tensor,
  u: Tensor,
  inverseTemperature: Tensor,
  truncations: Truncations,
): Draw {
  const { l, max } = processLogits(k, logits, inverseTemperature, truncations);
  const argmax = o.cast(o.argMax(l, 1), 'float32'); // [B, 1]: the first largest, as on the host
  const weights = o.exp(o.sub(o.cast(l, 'float64'), o.cast(max, 'float64'))); // [B, V]
  const cum = o.cumSum(weights, 1); // [B, V]
  const total = o.slice(cum, [k.vocab - 1], [k.vocab], [1]); // [B, 1]
  // The first token whose running sum exceeds u·total is the number of running sums at or below it.
  // u·total can round up to the total itself, where the host takes the last token with any mass:
  // the target is kept below total·(1 − 2⁻⁵²), so the count stops at the first token whose running
  // sum lies within two roundings of the total (the same token unless later tokens' mass is below
  // the total's rounding). This happens only for a u within rounding of 1 (a boundary, which the
  // contract allows), and costs nothing over the vocabulary where a search for the last token with
  // mass took a pass. Counts up to 2^24 are exact in float32 (and ReduceSum over float is far
  // faster than int64).
  const target = o.min(o.mul(u, total), o.mul(total, 1 - 2 ** -52)); // [B, 1]
  const below = o.reduceSum(o.cast(o.lessOrEqual(cum, target), 'float32'), [1], true);
  const token = o.where(o.less(u, 0), argmax, below); // [B, 1]
  const chosenLogit = o.gatherElements(l, o.cast(token, 'int64'), 1); // [B, 1]
  return { token, chosenLogit, maxLogit: max, total };
}

/**
 * The processors of `drawToken` (untokenizable, temperature, top-k, top-p, min-p): the processed
 * logits [B, V] float32 (removed tokens -inf) and their largest [B, 1].
 */
export function processLogits(
  k: DrawConstants,
  logits: Tensor,
  inverseTemperature: Tensor,
  truncations: Truncations,
): { l: Tensor; max: Tensor } {
  const { topK, topP, logMinP } = truncations;
  let l = k.removed ? o.add(logits, k.removed) : logits;
  l = o.cast(o.mul(o.cast(l, 'float64'), inverseTemperature), 'float32');
  if (topK) {
    // The k-th largest logit; -inf when fewer than k are finite, which then keeps them all as the
    // host does.
    const [values] = o.topK(l, topK, 1); // [B, k], largest first
    const kth = o.reduceMin(values, [1], true); // [B, 1]
    l = o.where(o.less(l, kth), -Infinity, l); // [B, V]
  }
  const max = o.reduceMax(l, [1], true); // [B, 1]; top-p and min-p keep the largest logit
  if (topP) l = topPInGraph(k, l, max, topP);
  if (logMinP) l = minPInGraph(l, max, logMinP);
  return { l, max };
}

/**
 * min-p (processors/min-p.ts): a token stays when its logit is at least max + ln(min_p), the cut
 * in float64 as the host's doubles compute it. l [B, V] float32, max [B, 1] its largest logit.
 */
export function minPInGraph(l: Tensor, max: Tensor, logMinP: Tensor): Tensor {
  const cut = o.add(o.cast(max, 'float64'), logMinP); // [B, 1]
  return o.where(o.less(o.cast(l, 'float64'), cut), -Infinity, l);
}

/** The k of each TopK top-p may run at a vocabulary of V, the last V. */
export function topPStages(V: number): number[] {
  // A later stage above a quarter of the vocabulary costs nearly a full sort, which follows it.
  const stages = TOP_P_STAGES.filter((n, i) => n < V && (i === 0 || n <= V / 4));
  return [...stages, V];
}

/**
 * top-p (processors/top-p.ts): keeps the smallest set of top-ranked tokens (higher logit, ties to
 * the lower id: TopK's order) whose mass reaches need = p · total, where total is the sum of
 * exp(l - max) in float64 in id order (CumSum, as the host's loop adds) and the mass is the
 * running sum in rank order.
 *
 * Without sorting the vocabulary: TopK ranks the first min(V, 1 024) tokens of every row; a row
 * whose running sum reaches need within them has its nucleus there. Only when some row's does not
 * does a second TopK rank 16 384 (where that is at most a quarter of V), and only when some row's
 * nucleus is larger still does the last rank all V tokens (a flat distribution); each later TopK's k is a runtime value (1 when every
 * row is done, a pass like ReduceMax), so no `If` is needed. The nucleus is the tokens ranked at or
 * before the boundary: kept = 1 + the number of running sums below need, and the boundary's (logit,
 * id) at rank kept - 1, taken from the first stage that reached need in that row; a token stays iff
 * its logit is larger, or equal with an id at most the boundary's. The first ranks of every stage
 * are the same tokens in the same order, so their running sums agree.
 *
 * The host adds the nucleus's mass in quickselect's partition order, this in rank order, and
 * onnxruntime's Exp may differ from Math.exp in the last place: the nuclei can differ only where a
 * running sum lies within float64 rounding of need (a boundary the contract allows, like a uniform
 * on the running sum's boundary in the draw). A weight that underflows to 0 adds nothing to a running
 * sum of at least 1 (the top token's weight), so it is never the boundary.
 */
export function topPInGraph(k: DrawConstants, l: Tensor, max: Tensor, p: Tensor): Tensor {
  const V = k.vocab;
  const g = l.graph;
  const maxD = o.cast(max, 'float64'); // [B, 1]
  const weight = (x: Tensor) => o.exp(o.sub(o.cast(x, 'float64'), maxD));
  const total = o.slice(o.cumSum(weight(l), 1), [V - 1], [V], [1]); // [B, 1]
  const need = o.mul(p, total); // [B, 1]
  // n: TopK's k (int64 [1]); last: n - 1 as float32.
  const ranked = (n: Tensor, last: Tensor) => {
    const [values, ids] = o.topK(l, n, 1); // [B, n], largest first, ties to the lower id
    const running = o.cumSum(weight(values), 1); // [B, n]
    // The number of running sums below need: kept - 1, or n when the mass never reaches it.
    // Counts up to 2^24 are exact in float32.
    const below = o.reduceSum(o.cast(o.less(running, need), 'float32'), [1], true); // [B, 1]
    // The boundary's rank. Where the mass never reaches need (float64 rounding with p near 1) it is
    // the last rank, which keeps every finite token, as the host then keeps them all.
    const at = o.cast(o.min(below, last), 'int64');
    // [B, 1] (the builder cannot tell that GatherElements' output has its indices' shape when k is
    // a runtime value).
    const pick = (x: Tensor) => o.reshape(o.gatherElements(x, at, 1), [0, 1]);
    return { below, value: pick(values), id: pick(ids) };
  };
  const stages = topPStages(V);
  const top = ranked(g.ints([stages[0]]), g.scalar(stages[0] - 1, 'float32'));
  let { value, id } = top;
  let enough = o.less(top.below, stages[0]); // [B, 1]: the row's nucleus lies in the ranks so far
  for (const [i, size] of stages.slice(1).entries()) {
    // TopK's k is one value for the batch: this stage's when some row needs more, else 1.
    const short = o.greater(o.reduceMax(o.cast(o.not(enough), 'float32'), [0, 1], false), 0); // []
    const n = o.where(short, g.ints([size]), g.ints([1])); // [1]
    const more = ranked(n, o.sub(o.cast(n, 'float32'), 1));
    value = o.where(enough, value, more.value);
    id = o.where(enough, id, more.id);
    // (Where has no bool kernel in onnxruntime: or as not-and-not.)
    if (i < stages.length - 2) enough = o.not(o.and(o.not(enough), o.not(o.less(more.below, size))));
  }
  const ids = o.reshape(o.range(g.scalar(0, 'float32'), g.scalar(V, 'float32'), g.scalar(1, 'float32')), [V]);
  const after = o.and(o.equal(l, value), o.greater(ids, o.cast(id, 'float32'))); // ties ranked after it
  return o.where(o.less(l, value), -Infinity, o.where(after, -Infinity, l));
}
