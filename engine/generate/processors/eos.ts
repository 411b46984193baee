import { type StoppingCriterion, requireParam } from './types';

/** Ends a row when it chooses an end-of-sequence token (the token stays in tokenIds, not in text). */
export function eos(ids: readonly number[]): StoppingCriterion {
  for (const id of ids)
    requireParam(Number.isInteger(id) && id >= 0, 'eos', `token ids must be integers >= 0, got ${id}`);
  const set = new Set(ids);
  const stopper = { push: (tokenId: number) => (set.has(tokenId) ? ('eos' as const) : null) };
  return { name: 'eos', start: () => stopper };
}
