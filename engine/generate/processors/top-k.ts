import { kthLargest } from './select';
import { type LogitsProcessor, requireParam } from './types';

// Globals read once: inside a vm context (jest) every global lookup in a hot loop is slow.
const NEG_INF = -Infinity;

/**
 * Keeps the k highest logits. Tokens tied with the k-th value are all kept (as in Hugging Face
 * transformers), so the result never depends on the order ties happen to be stored in.
 */
export function topK(k: number): LogitsProcessor {
  requireParam(Number.isInteger(k) && k >= 1, 'top-k', `k must be an integer >= 1, got ${k}`);
  let scratch = new Float32Array(0);
  return {
    name: 'top-k',
    apply(logits) {
      if (scratch.length < logits.length) scratch = new Float32Array(logits.length);
      let n = 0;
      for (let i = 0; i < logits.length; i++) if (logits[i] !== NEG_INF) scratch[n++] = logits[i];
      if (n <= k) return;
      const kth = kthLargest(scratch, n, k);
      for (let i = 0; i < logits.length; i++) if (logits[i] < kth) logits[i] = NEG_INF;
    },
  };
}
