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
 * so each stage runs only when some row's nucleus is larger than the stages before it reached. A
 * later stage above a quarter of the vocabulary is skipped (it would cost nearly the full sort).
 */
const TOP_P_STAGES: readonly number[] = [1024, 16384];

/**
 * The most tokens top-p ranks from the bottom (the tail it removes) before it sorts the whole
 * vocabulary: at most a quarter of V. A flat distribution's nucleus at p 0.9 is most of the
 * vocabulary, its tail a tenth.
 */
const TOP_P_TAIL = 16384;

/**
 * The sampler's processors and draw (engine/generate's untokenizable, temperature, top-k, top-p,
 * min-p and chooseToken) with the host's arithmetic, so the same logits and uniform choose the same
 * token: untokenizable ids to -inf; logits × (1/T) in float64 rounded to float32; top-k keeps a
 * token when its logit is at least the k-th largest (the least of TopK's values), i.e. when fewer
 * than k logits are strictly larger (ties with the k-th kept); top-p and min-p as `topPInGraph` and
 * `minPInGraph`; then the first token whose running sum of exp(l - max) (float64, id order, CumSum
 * adds one element after another as the host's loop does) exceeds u · total (kept a rounding below
 * the total, so one always does); a negative u takes the first argmax (greedy). No [V, V] product,
 * and every step but top-p's ranking is linear in the vocabulary (top-p ranks in stages and sorts the
 * vocabulary only for a batch where some row needs it), so it serves 152K-token vocabularies as
 * well as character-level ones.
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
function minPInGraph(l: Tensor, max: Tensor, logMinP: Tensor): Tensor {
  const cut = o.add(o.cast(max, 'float64'), logMinP); // [B, 1]
  return o.where(o.less(o.cast(l, 'float64'), cut), -Infinity, l);
}

/**
 * The k of each TopK top-p may run at a vocabulary of V: `top` from the largest logit, then `tail`
 * from the smallest (null when V is within the first stage), then the whole vocabulary.
 */
export function topPStages(V: number): { top: number[]; tail: number | null } {
  const top = TOP_P_STAGES.filter((n, i) => n < V && (i === 0 || n <= V / 4));
  if (top.length === 0) return { top: [V], tail: null };
  return { top, tail: Math.min(TOP_P_TAIL, Math.floor(V / 4)) };
}

/**
 * top-p (processors/top-p.ts): keeps the smallest set of top-ranked tokens (higher logit, ties to
 * the lower id: TopK's order) whose mass reaches need = p · total, where total is the sum of
 * exp(l - max) in float64 in id order (CumSum, as the host's loop adds) and the mass is the
 * running sum in rank order.
 *
 * Without sorting the vocabulary, in stages, each row taking the first that finds its boundary:
 * TopK ranks the first min(V, 1 024) tokens of every row, and where the running sum reaches need
 * within them the row's nucleus is there (kept = 1 + the number of running sums below need; the
 * boundary, the last token kept, at rank kept - 1). Then, only when some row's nucleus is larger:
 * the first 16 384 (where that is at most a quarter of V); then the tail from the bottom (TopK of
 * the smallest of the logits reversed along the vocabulary, so equal logits come higher id first,
 * the exact reverse of rank order), whose running sum of weights may stay within total - need:
 * those tokens go, and the next one up is the boundary (a flat distribution's nucleus is most of
 * the vocabulary, its tail small); and last, where some row's boundary is in neither, the whole
 * vocabulary ranked. Each later stage's k is a runtime value (1 when every row is done, a pass like
 * ReduceMax), so no `If` is needed. A token stays iff its logit is above the boundary's, or equal
 * with an id at most the boundary's.
 *
 * The host adds the nucleus's mass in quickselect's partition order, this in rank order (the tail
 * stage: total less the tail's mass), and onnxruntime's Exp may differ from Math.exp in the last
 * place: the nuclei can differ only where a running sum lies within float64 rounding of need (a
 * boundary the contract allows, like a uniform on the running sum's boundary in the draw). A weight
 * that underflows to 0 adds nothing to a running sum of at least 1 (the top token's weight), so it
 * is never the boundary.
 */
function topPInGraph(k: DrawConstants, l: Tensor, max: Tensor, p: Tensor): Tensor {
  const V = k.vocab;
  const g = l.graph;
  const maxD = o.cast(max, 'float64'); // [B, 1]
  const weight = (x: Tensor) => o.exp(o.sub(o.cast(x, 'float64'), maxD));
  const total = o.slice(o.cumSum(weight(l), 1), [V - 1], [V], [1]); // [B, 1]
  const need = o.mul(p, total); // [B, 1]
  // x at each row's rank `at`, [B, 1] (the builder cannot tell that GatherElements' output has its
  // indices' shape when k is a runtime value).
  const pick = (x: Tensor, at: Tensor) => o.reshape(o.gatherElements(x, at, 1), [0, 1]);
  // Each stage: n, TopK's k (int64 [1]); last, n - 1 as float32 (counts up to 2^24 are exact there).
  const fromTop = (n: Tensor, last: Tensor) => {
    const [values, ids] = o.topK(l, n, 1); // [B, n], largest first, ties to the lower id
    const running = o.cumSum(weight(values), 1); // [B, n]
    // The number of running sums below need: kept - 1, or n when the mass never reaches it there.
    const below = o.reduceSum(o.cast(o.less(running, need), 'float32'), [1], true); // [B, 1]
    // The boundary's rank. Where the mass never reaches need (float64 rounding with p near 1) it is
    // the last rank, which keeps every finite token, as the host then keeps them all.
    const at = o.cast(o.min(below, last), 'int64');
    return { count: below, value: pick(values, at), id: pick(ids, at) };
  };
  const fromBottom = (n: Tensor, last: Tensor) => {
    // Column i holds id V - 1 - i: TopK's ties to the lower index are then ties to the higher id.
    const reversed = o.slice(l, [V - 1], [-V - 1], [1], [-1]);
    const [values, rids] = o.topK(reversed, n, 1, false); // [B, n], smallest first (-inf first)
    const running = o.cumSum(weight(values), 1); // [B, n]
    // The number of tokens from the bottom whose mass stays within total - need: all removed.
    const removed = o.reduceSum(o.cast(o.lessOrEqual(running, o.sub(total, need)), 'float32'), [1], true);
    const at = o.cast(o.min(removed, last), 'int64');
    return { count: removed, value: pick(values, at), id: o.sub(g.scalar(V - 1, 'int64'), pick(rids, at)) };
  };
  const { top, tail } = topPStages(V);
  const first = fromTop(g.ints([top[0]]), g.scalar(top[0] - 1, 'float32'));
  let { value, id } = first;
  let done = o.less(first.count, top[0]); // [B, 1]: the row's boundary is found
  // TopK's k is one value for the batch: the stage's when some row's boundary is not found yet,
  // else 1 (a pass like ReduceMax).
  const gate = (size: number) => {
    const open = o.greater(o.reduceMax(o.cast(o.not(done), 'float32'), [0, 1], false), 0); // []
    const n = o.where(open, g.ints([size]), g.ints([1])); // [1]
    return [n, o.sub(o.cast(n, 'float32'), 1)] as const;
  };
  const merge = (stage: { count: Tensor; value: Tensor; id: Tensor }, size: number | null) => {
    value = o.where(done, value, stage.value);
    id = o.where(done, id, stage.id);
    if (size !== null) done = o.or(done, o.less(stage.count, size));
  };
  for (const size of top.slice(1)) merge(fromTop(...gate(size)), size);
  if (tail !== null) {
    merge(fromBottom(...gate(tail)), tail);
    merge(fromTop(...gate(V)), null);
  }
  const ids = o.reshape(o.range(g.scalar(0, 'float32'), g.scalar(V, 'float32'), g.scalar(1, 'float32')), [V]);
  const after = o.and(o.equal(l, value), o.greater(ids, o.cast(id, 'float32'))); // ties ranked after it
  return o.where(o.less(l, value), -Infinity, o.where(after, -Infinity, l));
}
