import type { Graph, Tensor } from '../onnx/graph';
import * as o from '../onnx/ops';

/** Constants the draw needs, made once per graph. */
export interface DrawConstants {
  vocab: number;
  /** [V] float32 (ids are exact up to 2^24): 0, 1, ..., V - 1. */
  ids: Tensor;
  /** [V] float32: 0 for ids the tokenizer has, -inf above; null when it has them all. */
  removed: Tensor | null;
}

export function drawConstants(g: Graph, vocab: number, tokenizerVocabSize: number): DrawConstants {
  return {
    vocab,
    ids: g.constant(
      'float32',
      [vocab],
      Float32Array.from({ length: vocab }, (_, i) => i),
    ),
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
 * u · total, or the last token with any mass when rounding leaves none; a negative u takes the first
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
  const argmax = o.neg(o.reduceMax(o.where(o.equal(l, max), o.neg(k.ids), -k.vocab), [1], true));
  const weights = o.exp(o.sub(o.cast(l, 'float64'), o.cast(max, 'float64'))); // [B, V]
  const cum = o.cumSum(weights, 1); // [B, V]
  const total = o.slice(cum, [k.vocab - 1], [k.vocab], [1]); // [B, 1]
  // Counts up to 2^24 are exact in float32 (and ReduceSum over float is far faster than int64).
  const below = o.reduceSum(o.cast(o.lessOrEqual(cum, o.mul(u, total)), 'float32'), [1], true);
  // u·total can round up to total itself: then, as on the host, the last token with any mass.
  const lastWithMass = o.reduceMax(o.where(o.greater(weights, 0), k.ids, -1), [1], true);
  const token = o.where(o.less(u, 0), argmax, o.min(below, lastWithMass)); // [B, 1]
  const chosenLogit = o.reduceSum(o.where(o.equal(k.ids, token), l, 0), [1], true);
  return { token, chosenLogit, maxLogit: max, total };
}
