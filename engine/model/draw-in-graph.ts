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
 * The sampler's processors and draw (engine/generate's untokenizable, temperature, top-k and
 * chooseToken) with the host's arithmetic, so the same logits and uniform choose the same token:
 * untokenizable ids to -inf; logits × (1/T) in float64 rounded to float32; top-k keeps a token when
 * its logit is at least the k-th largest (the least of TopK's values), i.e. when fewer than k logits are
 * strictly larger (ties with the k-th kept); then the first token whose running sum of exp(l - max)
 * (float64, id order, CumSum adds one element after another as the host's loop does) exceeds
 * u · total (kept a rounding below the total, so one always does); a negative u takes the first
 * argmax (greedy). Every step is linear in the vocabulary: no [V, V] product, so it serves 152K-token
 * vocabularies as well as character-level ones.
 *
 * logits [B, V] float32, u [B, 1] float64, inverseTemperature [] float64, topK int64 [1] (at most
 * V; the caller clamps it) or null.
 */
export function drawToken(
  k: DrawConstants,
  logits: Tensor,
  u: Tensor,
  inverseTemperature: Tensor,
  topK: Tensor | null,
): Draw {
  let l = k.removed ? o.add(logits, k.removed) : logits;
  l = o.cast(o.mul(o.cast(l, 'float64'), inverseTemperature), 'float32');
  if (topK) {
    // The k-th largest logit; -inf when fewer than k are finite, which then keeps them all as the
    // host does.
    const [values] = o.topK(l, topK, 1); // [B, k], largest first
    const kth = o.reduceMin(values, [1], true); // [B, 1]
    l = o.where(o.less(l, kth), -Infinity, l); // [B, V]
  }
  const max = o.reduceMax(l, [1], true); // [B, 1]
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
