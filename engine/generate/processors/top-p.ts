import { type LogitsProcessor, requireParam } from './types';

// Globals read once: inside a vm context (jest) every global lookup in a hot loop is slow.
const NEG_INF = -Infinity;
const { exp } = Math;

/**
 * Nucleus sampling (Holtzman et al. 2020): keeps the smallest set of most likely tokens whose
 * probability mass reaches p. Tokens are ranked by logit, ties by lower id, so the nucleus is
 * unique: the order of probability, except that logits whose exp(l - max) rounds to one float64
 * keep their logits' order, as TopK ranks them in the decode-steps graph's twin (draw-in-graph.ts).
 * The set is found by quickselect-style partitioning on mass, expected O(vocabulary), because a
 * full sort of a 32K-150K vocabulary per row per token would cost more than the model.
 */
export function topP(p: number): LogitsProcessor {
  requireParam(Number.isFinite(p) && p > 0 && p <= 1, 'top-p', `must be in (0, 1], got ${p}`);
  let ids = new Int32Array(0);
  let prob = new Float64Array(0);
  return {
    name: 'top-p',
    apply(logits) {
      if (p === 1) return;
      const v = logits.length;
      if (ids.length < v) {
        ids = new Int32Array(v);
        prob = new Float64Array(v);
      }
      let max = NEG_INF;
      for (let i = 0; i < v; i++) if (logits[i] > max) max = logits[i];
      let n = 0;
      let total = 0;
      for (let i = 0; i < v; i++) {
        if (logits[i] === NEG_INF) continue;
        const w = exp(logits[i] - max);
        prob[i] = w;
        total += w;
        ids[n++] = i;
      }
      const kept = nucleusSize(ids, n, logits, prob, p * total);
      if (kept >= n) return;
      // ids[0..kept) is the nucleus; everything after it is removed.
      for (let j = kept; j < n; j++) logits[ids[j]] = NEG_INF;
    },
  };
}

/** Ranks before: higher logit, then lower id. */
function before(a: number, b: number, l: Float32Array): boolean {
  return l[a] > l[b] || (l[a] === l[b] && a < b);
}

/**
 * Reorders ids[0..n) so that ids[0..k) are the k top-ranked tokens (by logit), for the smallest k
 * whose weight w reaches `need`, and returns k.
 */
export function nucleusSize(
  ids: Int32Array,
  n: number,
  logits: Float32Array,
  w: Float64Array,
  need: number,
): number {
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = lo + ((hi - lo) >>> 1);
    const pivot = ids[mid];
    ids[mid] = ids[hi - 1];
    ids[hi - 1] = pivot;
    // Lomuto partition of ids[lo..hi-1): those ranked before the pivot go first.
    let store = lo;
    let mass = 0;
    for (let j = lo; j < hi - 1; j++) {
      const id = ids[j];
      if (before(id, pivot, logits)) {
        ids[j] = ids[store];
        ids[store] = id;
        store++;
        mass += w[id];
      }
    }
    ids[hi - 1] = ids[store];
    ids[store] = pivot;
    if (mass >= need) hi = store;
    else if (mass + w[pivot] >= need) return store + 1;
    else {
      need -= mass + w[pivot];
      lo = store + 1;
    }
  }
  return hi;
}
