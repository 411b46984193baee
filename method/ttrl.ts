/**
 * TTRL (Zuo et al. 2025), the reward side: the majority answer of a question's m sampled paths stands
 * in for its label. A trained path earns 1 when its answer is the majority answer and 0 otherwise (an
 * abstention earns 0), and GRPO (Shao et al. 2024) turns the rewards of a question's trained paths
 * into advantages by normalising them within that group. No label is read anywhere here.
 */

/** What a reward needs from a path: its index and its normalised answer (null: it abstained). */
export interface VotedPath {
  pathIndex: number;
  answer: string | null;
}

/** 1 when the path's answer is the majority answer, else 0; every path earns 0 when all abstained. */
export function majorityReward(path: VotedPath, majority: string | null): number {
  return majority !== null && path.answer === majority ? 1 : 0;
}

/**
 * Which of a question's m voting paths are trained: the first `trainedPaths` by path index (TTRL
 * votes with 64 and trains 16). Each path's stream of draws is its own, so the first k are as random
 * a subset as any, and the choice needs no seed of its own.
 */
export function trainedSubset<T extends { pathIndex: number }>(
  paths: readonly T[],
  trainedPaths: number,
): T[] {
  return [...paths].sort((a, b) => a.pathIndex - b.pathIndex).slice(0, trainedPaths);
}

/**
 * GRPO's group-relative advantages: (r - mean) / (std + eps) over one question's trained paths, with
 * the sample standard deviation (n - 1, as torch.std in verl's and TRL's GRPO). A group whose rewards
 * are all equal has no signal: every advantage is 0 (and `hasSignal` is false).
 */
export function groupAdvantages(
  rewards: readonly number[],
  eps = 1e-6,
): { advantages: number[]; hasSignal: boolean } {
  const n = rewards.length;
  if (n < 2 || rewards.every((r) => r === rewards[0]))
    return { advantages: rewards.map(() => 0), hasSignal: false };
  const mean = rewards.reduce((s, r) => s + r, 0) / n;
  const variance = rewards.reduce((s, r) => s + (r - mean) ** 2, 0) / (n - 1);
  const std = Math.sqrt(variance);
  return { advantages: rewards.map((r) => (r - mean) / (std + eps)), hasSignal: true };
}

/** One question's trained paths with their rewards and advantages. */
export interface RewardedPath extends VotedPath {
  reward: number;
  advantage: number;
}

export function rewardQuestion(
  paths: readonly VotedPath[],
  majority: string | null,
  trainedPaths: number,
): { paths: RewardedPath[]; hasSignal: boolean } {
  const trained = trainedSubset(paths, trainedPaths);
  const rewards = trained.map((p) => majorityReward(p, majority));
  const { advantages, hasSignal } = groupAdvantages(rewards);
  return {
    paths: trained.map((p, i) => ({
      pathIndex: p.pathIndex,
      answer: p.answer,
      reward: rewards[i],
      advantage: advantages[i],
    })),
    hasSignal,
  };
}
