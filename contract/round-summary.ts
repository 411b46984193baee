import { roundContextLimits } from './context-limits';
import type { RoundSummary } from './campaign';
import type { RoundResult } from './round';

/** The campaign's one-line record of a finished round (also rebuilt by clients from round results). */
export function summarizeRound(r: RoundResult, workflowId: string): RoundSummary {
  const context = roundContextLimits(r);
  return {
    round: r.round,
    workflowId,
    greedyAccuracy: r.evaluation.summary.greedyAccuracy,
    scAccuracy: r.evaluation.summary.scAccuracy,
    promoted: r.gate.promoted,
    modelRef: r.modelOut,
    // strategy 'ttrl': its self-training set is the rewarded paths of its policy set.
    selfTrainingSetRef: r.trainingSet?.ref ?? r.policySet?.ref ?? null,
    keptPaths: r.vote?.stats.kept ?? null,
    meanKeptConfidence: r.vote?.meanKeptConfidence ?? null,
    trainingExamples: r.trainingSet?.examples ?? r.policySet?.examples ?? null,
    finalLoss: r.training?.finalLoss ?? null,
    wallSeconds: (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000,
    votesRef: r.vote?.votesRef ?? null,
    evaluationDetailsRef: r.evaluation.summary.detailsRef,
    ...(r.vote?.health || r.evaluation.summary.health
      ? { health: { sampled: r.vote?.health ?? null, evaluated: r.evaluation.summary.health ?? null } }
      : {}),
    ...(context.warnings.length > 0
      ? {
          skippedQuestions: context.skipped.reduce((n, s) => n + s.questions.length, 0),
          contextWarnings: context.warnings,
        }
      : {}),
    ...(r.student
      ? {
          studentGreedyAccuracy: r.student.evaluation.summary.greedyAccuracy,
          studentScAccuracy: r.student.evaluation.summary.scAccuracy,
        }
      : {}),
  };
}
