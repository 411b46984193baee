// Globals read once: inside a vm context (jest) every global lookup in a hot loop is slow.
const NEG_INF = -Infinity;
const { exp, log } = Math;

/**
 * Draws the next token from processed logits with one uniform number u from the row's own stream
 * (inverse CDF, tokens in id order), or takes the argmax when u is null (greedy; ties go to the lower
 * id). Returns the token's log-probability under the softmax of those same processed logits: the
 * distribution actually sampled from (for greedy: temperature 1 with the other processors applied).
 */
export interface Choice {
  tokenId: number;
  logprob: number;
}

/** exp(logit - max) per token, kept from the normalising pass for the draw (sampling is synchronous). */
let weights = new Float64Array(0);

export function chooseToken(logits: Float32Array, u: number | null): Choice {
  let max = NEG_INF;
  let argmax = -1;
  for (let i = 0; i < logits.length; i++)
    if (logits[i] > max) {
      max = logits[i];
      argmax = i;
    }
  if (argmax < 0 || !Number.isFinite(max))
    throw new Error(
      `chooseToken: no finite logit to choose from (max ${max}); the model produced NaN or inf`,
    );
  if (weights.length < logits.length) weights = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    const l = logits[i];
    const w = l === NEG_INF ? 0 : exp(l - max);
    weights[i] = w;
    total += w;
  }
  // total >= 1 (the maximum contributes exp(0)); anything else means a NaN logit somewhere.
  if (!(total >= 1)) throw new Error('chooseToken: the logits contain NaN; the model output is broken');
  const logTotal = log(total);
  if (u === null) return { tokenId: argmax, logprob: -logTotal };
  const target = u * total;
  let cum = 0;
  let last = argmax;
  for (let i = 0; i < logits.length; i++) {
    const w = weights[i];
    if (w === 0) continue;
    cum += w;
    last = i;
    if (cum > target) return { tokenId: i, logprob: logits[i] - max - logTotal };
  }
  // Rounding left the scan a hair short of u·total: the last token with any mass takes the remainder.
  return { tokenId: last, logprob: logits[last] - max - logTotal };
}
