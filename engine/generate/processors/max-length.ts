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
      if (maxPositions !== null && promptIds.length >= maxPositions)
        throw new RangeError(
          `max length: the prompt has ${promptIds.length} tokens; the model takes at most ${maxPositions} positions`,
        );
      const limit = Math.min(
        maxNewTokens,
        maxPositions === null ? Infinity : maxPositions - promptIds.length,
      );
      let count = 0;
      return { push: () => (++count >= limit ? 'length' : null) };
    },
  };
}
