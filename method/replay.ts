import { deriveSeed, Rng } from '../base/rng';

/**
 * Which labeled seed examples a round replays beside its self-generated ones: `ratio` per
 * self-generated example (at most the whole pool), drawn without replacement from
 * Rng(deriveSeed(seed, 'replay')), returned in pool order. Pure, so the campaign's buildTrainingSet
 * and the round sweep (bench/round-sweep.ts) replay by the same rule.
 */
export function chooseReplay(poolSize: number, selfGenerated: number, ratio: number, seed: string): number[] {
  if (!Number.isInteger(poolSize) || poolSize < 0) throw new RangeError(`chooseReplay: poolSize ${poolSize}`);
  if (!Number.isInteger(selfGenerated) || selfGenerated < 0)
    throw new RangeError(`chooseReplay: selfGenerated ${selfGenerated}`);
  if (!(ratio >= 0) || !Number.isFinite(ratio)) throw new RangeError(`chooseReplay: ratio ${ratio}`);
  const want = Math.min(poolSize, Math.round(selfGenerated * ratio));
  if (want === 0) return [];
  const all = Array.from({ length: poolSize }, (_, i) => i);
  return new Rng(deriveSeed(seed, 'replay'))
    .shuffle(all)
    .slice(0, want)
    .sort((a, b) => a - b);
}
