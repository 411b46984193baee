import { type LogitsProcessor, requireParam } from './types';

// Globals read once: inside a vm context (jest) every global lookup in a hot loop is slow.
const NEG_INF = -Infinity;

/**
 * Keeps tokens whose probability is at least minP times the most likely token's (Nguyen et al. 2024),
 * i.e. logit >= max + ln(minP): the cut adapts to how confident the model is.
 */
export function minP(p: number): LogitsProcessor {
  requireParam(Number.isFinite(p) && p > 0 && p <= 1, 'min-p', `must be in (0, 1], got ${p}`);
  const logP = Math.log(p);
  return {
    name: 'min-p',
    apply(logits) {
      let max = NEG_INF;
      for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
      const cut = max + logP;
      for (let i = 0; i < logits.length; i++) if (logits[i] < cut) logits[i] = NEG_INF;
    },
  };
}
