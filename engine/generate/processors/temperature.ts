import { type LogitsProcessor, requireParam } from './types';

/** Divides logits by T: T < 1 sharpens the distribution, T > 1 flattens it. T = 0 is greedy, chosen by the sampler. */
export function temperature(t: number): LogitsProcessor {
  requireParam(Number.isFinite(t) && t > 0, 'temperature', `must be a finite number > 0, got ${t}`);
  const inv = 1 / t;
  return {
    name: 'temperature',
    apply(logits) {
      if (t === 1) return;
      for (let i = 0; i < logits.length; i++) logits[i] *= inv;
    },
  };
}
