import type { CampaignConfig } from '../config/campaign';
import type { GateDecision } from '../contract';

// The round's decisions, as pure functions of its results and config (tested without Temporal).

/**
 * Why a round's vote kept too few paths to train on, or null when it kept enough: none at all
 * (unless gate.stopWhenNothingKept is off), or fewer than `minFraction` of the sampled paths
 * (gate.minKeptFraction). Names what dropped them.
 */
export function tooFewKept(
  stats: { paths: number; kept: number; droppedBy: Record<string, number> },
  gate: { minFraction: number; stopWhenNothingKept: boolean },
): string | null {
  const { minFraction } = gate;
  const fraction = stats.paths > 0 ? stats.kept / stats.paths : 0;
  if (stats.kept > 0 ? fraction >= minFraction : !gate.stopWhenNothingKept && minFraction === 0) return null;
  const dropped = Object.entries(stats.droppedBy)
    .filter(([, n]) => n > 0)
    .map(([why, n]) => `${why} ${n}`)
    .join(', ');
  const kept = `kept ${stats.kept} of ${stats.paths} sampled paths${dropped ? ` (dropped: ${dropped})` : ''}`;
  if (stats.kept === 0) {
    return `${kept}: no path agreed with its question's majority answer, so there is nothing to train on and the round is not promoted; check the tokenizer (it must be the model's own) and sampling.maxNewTokens (paths cut before their answer abstain)`;
  }
  return `${kept}, ${(fraction * 100).toFixed(1)}% below gate.minKeptFraction ${(minFraction * 100).toFixed(1)}%: the round is not trained on nor promoted; check the tokenizer, sampling.maxNewTokens and filtering, or lower gate.minKeptFraction`;
}

/**
 * Promote the round's model unless its accuracy fell more than `tolerance` below the best so far.
 * Either way the decision is recorded; a model that is not promoted is never sampled from again.
 */
export function decideGate(
  accuracy: number,
  best: number | null,
  tolerance: number,
  round: number,
): GateDecision {
  if (round === 0 || best === null) {
    return { promoted: true, accuracy, best, tolerance, reason: 'base model' };
  }
  const promoted = accuracy >= best - tolerance;
  const delta = ((accuracy - best) * 100).toFixed(1);
  return {
    promoted,
    accuracy,
    best,
    tolerance,
    reason: promoted
      ? `accuracy ${delta} points from the best (tolerance ${(tolerance * 100).toFixed(1)})`
      : `accuracy fell ${(-Number(delta)).toFixed(1)} points below the best, beyond the tolerance of ${(tolerance * 100).toFixed(1)}`,
  };
}

/**
 * The training settings of one round: the campaign's, with every `fromRound` override of a round up
 * to this one applied in round order. An override's `epochs` drops the `steps` it replaces (and the
 * other way round), so exactly one of them is set. Without overrides: the campaign's settings as they
 * are, so runs recorded before the field schedule the same activities.
 */
export function trainingForRound(
  training: CampaignConfig['training'],
  round: number,
): Omit<CampaignConfig['training'], 'fromRound'> {
  const { fromRound, ...settings } = training;
  const from = Object.keys(fromRound ?? {})
    .map(Number)
    .filter((r) => r <= round)
    .sort((a, b) => a - b);
  for (const r of from) {
    const override = fromRound![String(r)];
    if (override.epochs !== undefined) delete settings.steps;
    if (override.steps !== undefined) delete settings.epochs;
    for (const [key, value] of Object.entries(override))
      if (value !== undefined) Object.assign(settings, { [key]: value });
  }
  return settings;
}
