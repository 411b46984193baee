import { grad } from '../onnx/autodiff';
import { BYTES_PER_ELEMENT, type DType } from '../onnx/dtype';
import type { Tensor } from '../onnx/graph';
import * as o from '../onnx/ops';
import type { LlamaConfig } from './config';
import { type Weights, lmHead } from './llama';
import { tokenLogProbs } from './policy-loss';

/**
 * The LM head and the loss a slice of tokens at a time. Over a whole batch the head's logits are
 * [B·T, V]; with a real vocabulary (Qwen2.5: 151 936) that is 0.6 GB at 4 × 256 tokens, and the
 * log-softmax, the scattered gradient of the picked log-probabilities and the logits' gradient are
 * three more of the same size, all alive together in the backward pass. Here each chunk of rows goes
 * through the final norm, the head, the log-softmax and its share of the loss, and is differentiated
 * at once, down to its rows of the last layer's output; the next chunk starts only once that gradient
 * and the chunk's share of the loss exist (`after`, ops.ts), so only one chunk's [rows, V] values
 * are ever alive. The loss terms are per token (the cross-entropy's and
 * GRPO's, both a masked mean with the mask's sum known up front), so a chunk's share of the loss and
 * of the gradient needs nothing from the other chunks; nothing is computed twice.
 */

/** Bytes one [rows, V] value of a chunk may take; the chunk's rows follow from it. */
export const HEAD_CHUNK_BYTES = 128 * 1024 * 1024;

/**
 * Tokens per chunk for `tokens` rows of `c`'s head, the rows split as evenly as the budget allows;
 * 0 when the whole batch fits in one chunk (the graph is then the unchunked one, node for node).
 * `requested` (> 0) overrides the budget: tests chunk small models with it.
 */
export function headChunkRows(c: LlamaConfig, tokens: number, dtype: DType, requested?: number): number {
  if (requested !== undefined && requested > 0) return requested >= tokens ? 0 : requested;
  const chunks = Math.ceil((tokens * c.vocabSize * BYTES_PER_ELEMENT[dtype]) / HEAD_CHUNK_BYTES);
  return chunks <= 1 ? 0 : Math.ceil(tokens / chunks);
}

export interface ChunkedHeadInputs {
  c: LlamaConfig;
  w: Weights;
  /** The last decoder layer's output, [B, T, C]. */
  top: Tensor;
  /** [B, T] int64: the next token at each position. */
  targets: Tensor;
  /** Tokens per chunk (headChunkRows). */
  rows: number;
  /** Log-probabilities are of softmax(logits / temperature). */
  temperature: number;
}

/**
 * The loss of one chunk from its tokens' log-probabilities [n]: `slice` cuts the chunk's rows out of
 * any [B, T] input (mask, advantages, ...). The chunks' losses are summed, so each must be its share of
 * the batch's loss (a masked mean divides by the whole batch's mask sum).
 */
export type ChunkLoss = (logProbs: Tensor, slice: (perToken: Tensor) => Tensor) => Tensor;

export interface ChunkedHeadResult {
  /** The summed loss [] (forward only: the log-probabilities [B, T] when no loss is given). */
  loss: Tensor;
  /** d loss / d top, [B, T, C] (null without `wrt`). */
  upstream: Tensor | null;
  /** d loss / d each of `wrt` (the head's trainable parameters), summed over the chunks. */
  grads: Tensor[];
}

/**
 * Runs the head chunk by chunk. With `loss` it sums the chunks' losses and, when `differentiate`,
 * returns the gradients with respect to `top` and `wrt`; without it, it returns the log-probabilities
 * of the targets as `loss` ([B, T], mode `logprobs`).
 */
export function chunkedHead(
  x: ChunkedHeadInputs,
  loss: ChunkLoss | null,
  differentiate: boolean,
  wrt: readonly Tensor[] = [],
): ChunkedHeadResult {
  const [B, T, C] = x.top.shape as number[];
  const N = B * T;
  const flat = o.reshape(x.top, [N, C]); // [N, C]
  const targets = o.reshape(x.targets, [N]); // [N]
  // What the next chunk waits for: everything the last one computed that nothing else waits for.
  let previous: Tensor[] = [];
  let total: Tensor | null = null;
  const logProbs: Tensor[] = [];
  const upstream: Tensor[] = [];
  let grads: Tensor[] = [];
  for (let start = 0; start < N; start += x.rows) {
    const end = Math.min(N, start + x.rows);
    const rows = (t: Tensor) => o.slice(t, [start], [end], [0]);
    const h = o.after(rows(flat), previous); // [n, C]
    const logp = tokenLogProbs(lmHead(x.c, x.w, h), rows(targets), x.temperature); // [n]
    if (!loss) {
      logProbs.push(logp);
      previous = [logp];
      continue;
    }
    const part = loss(logp, (perToken) => rows(o.reshape(perToken, [N]))); // []
    total = total ? o.add(total, part) : part;
    if (!differentiate) {
      previous = [part];
      continue;
    }
    const [dh, ...dw] = grad(part, [h, ...wrt], { stopAt: [h] });
    upstream.push(dh);
    grads = grads.length ? grads.map((g, i) => o.add(g, dw[i])) : dw;
    // The chunk's share of the loss reads its log-softmax: without it here, onnxruntime would
    // compute every share at the end, each chunk's [n, V] log-softmax alive until then.
    previous = [dh, part, ...grads];
  }
  if (!loss) return { loss: o.reshape(o.concat(logProbs, 0), [B, T]), upstream: null, grads: [] };
  return {
    loss: total!,
    upstream: differentiate ? o.after(o.reshape(o.concat(upstream, 0), [B, T, C]), previous) : null,
    grads,
  };
}
