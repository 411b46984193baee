import type { StoredPath } from '../contract';
import type { HealthQuestion } from '../method/health';
import type { AnsweredPath, VoteResult } from '../method/vote';
import type { ArtifactStore } from '../store';

/** A question's sampled paths and its vote as the health signals read them (method/health.ts). */
export function healthQuestion(
  questionId: string,
  stored: readonly StoredPath[],
  answered: readonly AnsweredPath[],
  vote: VoteResult,
): HealthQuestion {
  const answers = new Map(answered.map((p) => [p.pathIndex, p.answer]));
  return {
    questionId,
    majority: vote.answer,
    majorityShare: vote.confidence,
    paths: stored.map((p) => ({ answer: answers.get(p.pathIndex) ?? null, text: p.text, tokens: p.tokens })),
  };
}

/**
 * Every question's majority answer in an earlier round's vote records or evaluation scores (both
 * JSONL lines carry `questionId` and `answer`); null when there is no earlier round.
 */
export async function readMajorityAnswers(
  store: ArtifactStore,
  ref: string | null | undefined,
): Promise<Map<string, string | null> | undefined> {
  if (!ref) return undefined;
  const answers = new Map<string, string | null>();
  for await (const line of store.readJsonl<{ questionId: string; answer: string | null }>(ref))
    answers.set(line.questionId, line.answer);
  return answers;
}
