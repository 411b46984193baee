import { type LogitsProcessor, requireParam } from './types';

/**
 * CTRL's repetition penalty (Keskar et al. 2019) as Hugging Face applies it: every distinct token
 * already in the prompt or completion has a positive logit divided by the penalty and a negative one
 * multiplied by it, so penalty > 1 always makes repeats less likely.
 */
export function repetitionPenalty(penalty: number): LogitsProcessor {
  requireParam(
    Number.isFinite(penalty) && penalty > 0,
    'repetition penalty',
    `must be a finite number > 0, got ${penalty}`,
  );
  // A per-call stamp marks tokens already penalised for this row without clearing a set each time.
  let stamp = new Uint32Array(0);
  let generation = 0;
  const penalise = (logits: Float32Array, ids: readonly number[]) => {
    for (const id of ids) {
      if (id < 0 || id >= logits.length || stamp[id] === generation) continue;
      stamp[id] = generation;
      const v = logits[id];
      logits[id] = v > 0 ? v / penalty : v * penalty;
    }
  };
  return {
    name: 'repetition penalty',
    apply(logits, row) {
      if (penalty === 1) return;
      if (stamp.length < logits.length) stamp = new Uint32Array(logits.length);
      generation = (generation + 1) >>> 0;
      if (generation === 0) {
        stamp.fill(0);
        generation = 1;
      }
      penalise(logits, row.promptIds);
      penalise(logits, row.completionIds);
    },
  };
}
