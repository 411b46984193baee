import { type StoppingCriterion, requireParam } from './types';

/**
 * Ends a row after maxNewTokens tokens, or earlier when prompt + completion reaches the model's
 * position limit (config.json max_position_embeddings), since positions beyond it were never trained.
 */
export function maxLength(maxNewTokens: number, maxPositions: number | null = null): StoppingCriterion {
  requireParam(
    Number.isInteger(maxNewTokens) && maxNewTokens >= 1,
    'max length',
    `maxNewTokens must be an integer >= 1, got ${maxNewTokens}`,
  );
  requireParam(
    maxPositions === null || (Number.isInteger(maxPositions) && maxPositions >= 1),
    'max length',
    `maxPositions must be an integer >= 1, got ${maxPositions}`,
  );
  return {
    name: 'max length',
    start(promptIds) {
      const limit = newTokenBudget(promptIds.length, maxNewTokens, maxPositions);
      if (limit < 1)
        throw new RangeError(
          `max length: the prompt has ${promptIds.length} tokens; the model takes at most ${maxPositions} positions`,
        );
      let count = 0;
      return { push: () => (++count >= limit ? 'length' : null) };
    },
  };
}

/**
 * How many new tokens a prompt of `promptTokens` may get: maxNewTokens, clipped to the positions the
 * model has left after the prompt. Below 1, the prompt is longer than the context: not even one new
 * token fits (prompt tokens + 1 > max positions), and the sampler skips or refuses it.
 */
export function newTokenBudget(
  promptTokens: number,
  maxNewTokens: number,
  maxPositions: number | null,
): number {
  return Math.min(maxNewTokens, maxPositions === null ? Infinity : maxPositions - promptTokens);
}
