import { z } from 'zod';
import type { Tensor } from '../onnx/graph';
import * as o from '../onnx/ops';

/**
 * The GRPO objective's settings (Shao et al. 2024, as TTRL trains with it through verl), fixed when
 * the graph is built.
 */
export const GrpoConfig = z
  .object({
    /** PPO's clip range ε: the ratio is clipped to [1 − ε, 1 + ε]. */
    clipEpsilon: z.number().positive().lt(1).default(0.2),
    /** β of the KL penalty to the reference model (k3 estimator); 0 = none, as TTRL trains. */
    klBeta: z.number().min(0).default(0),
    /**
     * The temperature the paths were sampled at. Every log-probability of the objective (new, old,
     * reference) is of softmax(logits / temperature): that is the distribution the paths were drawn
     * from, so the importance ratio π_θ / π_old weighs them against their true sampling policy
     * (verl divides the logits by the rollout temperature in the same way). At temperature 1 the
     * ratio would compare two distributions neither of which drew the paths.
     */
    temperature: z.number().positive().default(1),
  })
  .strict();
export type GrpoConfig = z.output<typeof GrpoConfig>;
export type GrpoConfigInput = z.input<typeof GrpoConfig>;

/** Log-ratios are clamped to ±this before exp (verl's clamp): a stale token cannot overflow the ratio. */
const LOG_RATIO_LIMIT = 20;

const clamp = (x: Tensor, lo: number, hi: number): Tensor => o.min(o.max(x, lo), hi);

/** log softmax(logits / temperature) of each position's target: [B, T] from logits [B, T, V]. */
export function tokenLogProbs(logits: Tensor, targets: Tensor, temperature = 1): Tensor {
  const scaled = temperature === 1 ? logits : o.div(logits, temperature);
  const logp = o.logSoftmax(scaled, -1); // [B, T, V]
  return o.squeeze(o.gatherElements(logp, o.unsqueeze(targets, [-1]), -1), [-1]); // [B, T]
}

/** Per-token inputs of the GRPO loss, all [B, T]. */
export interface GrpoInputs {
  /** log π_θ(token) under the weights being trained. */
  logProbs: Tensor;
  /** 1 on completion tokens. */
  lossMask: Tensor;
  /** The token's advantage A (GRPO: its path's group-normalised reward, on every token of the path). */
  advantages: Tensor;
  /** log π_old(token): the sampling policy's, computed once before the update. */
  oldLogProbs: Tensor;
  /** log π_ref(token); needed only with klBeta > 0. */
  refLogProbs: Tensor | null;
}

/**
 * The clipped surrogate with an optional KL penalty, per token:
 *   r = exp(logp − old),  l = −min(r·A, clip(r, 1 − ε, 1 + ε)·A) + β·(exp(ref − logp) − (ref − logp) − 1),
 * averaged over every completion token of the batch (the token-level mean of DAPO and of verl's
 * default, which TTRL uses): a long path weighs by its tokens, not as one sequence. It is also what
 * lets gradient accumulation weigh micro-batches by their completion tokens, exactly as for the
 * cross-entropy. The third term is Schulman's k3 estimator of KL(π_θ ‖ π_ref): non-negative, and
 * unbiased under samples from π_θ.
 */
export function grpoLoss(x: GrpoInputs, cfg: GrpoConfig): Tensor {
  return o.div(o.reduceSum(o.mul(grpoPerToken(x, cfg), x.lossMask)), o.max(o.reduceSum(x.lossMask), 1)); // []
}

/**
 * l of grpoLoss for each token, before the mask and the mean (any shape, the inputs' own): the
 * training graph's chunked LM head computes it a slice of tokens at a time.
 */
export function grpoPerToken(x: Omit<GrpoInputs, 'lossMask'>, cfg: GrpoConfig): Tensor {
  const eps = cfg.clipEpsilon;
  const ratio = o.exp(clamp(o.sub(x.logProbs, x.oldLogProbs), -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT));
  const surrogate = o.mul(ratio, x.advantages);
  const clipped = o.mul(clamp(ratio, 1 - eps, 1 + eps), x.advantages);
  let perToken = o.neg(o.min(surrogate, clipped)); // [B, T]
  if (cfg.klBeta > 0) {
    if (!x.refLogProbs) throw new Error('grpoLoss: klBeta > 0 needs the reference log-probabilities');
    const d = clamp(o.sub(x.refLogProbs, x.logProbs), -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT);
    perToken = o.add(perToken, o.mul(o.sub(o.sub(o.exp(d), d), 1), cfg.klBeta));
  }
  return perToken;
}
