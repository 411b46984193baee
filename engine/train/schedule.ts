/**
 * Learning rate of optimiser step `step` (1-based): linear warmup from lr/warmup to lr over the
 * first `warmup` steps, then cosine decay from lr to minRatio · lr at the last step.
 */
export function learningRateAt(
  step: number,
  s: { learningRate: number; warmupSteps: number; minLearningRateRatio: number; totalSteps: number },
): number {
  const { learningRate: lr, warmupSteps: warmup, totalSteps: total } = s;
  if (step <= warmup) return (lr * step) / warmup;
  const decaySteps = total - warmup;
  const progress = decaySteps <= 1 ? 0 : (step - warmup - 1) / (decaySteps - 1);
  const min = lr * s.minLearningRateRatio;
  return min + (lr - min) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
}
