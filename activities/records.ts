import type { StoredPath } from '../contract';
import type { SampledPath } from '../method/types';

/** A stored path (contract/records.ts) as the method's voting reads it. */
export function toSampledPath(questionId: string, p: StoredPath): SampledPath {
  return {
    questionId,
    pathIndex: p.pathIndex,
    text: p.text,
    sumLogprob: p.sumLogprob,
    finishReason: p.finishReason,
  };
}
