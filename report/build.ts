import { z } from 'zod';
import type { ArtifactStore } from '../store';
import type { CampaignStop, FineTuneResult, ModelEvaluation, RoundResult } from '../contract';
import { roundContextLimits } from '../contract/context-limits';
import type { CampaignReport, ModelScores, RoundReport, TrainingReport } from './types';

const LossCurve = z.array(z.object({ step: z.number(), loss: z.number() }));

export interface BuildReportInput {
  campaignId: string;
  /** The finished rounds, in order (client/campaigns.ts finishedRounds). */
  rounds: RoundResult[];
  store: ArtifactStore;
  /** When the report was made (default: now); fixed by tests and reproducible builds. */
  generatedAt?: string;
  /** Why the campaign stopped before its last round, when it did. */
  stopped?: CampaignStop;
}

/**
 * A campaign's report: every number the page shows, from the rounds' results and, for the training
 * loss, the full curve artifact (a round's result carries a thinned copy only).
 */
export async function buildReport(input: BuildReportInput): Promise<CampaignReport> {
  const rounds = [...input.rounds].sort((a, b) => a.round - b.round);
  const reports: RoundReport[] = [];
  for (const r of rounds) reports.push(await roundReport(r, input.store));
  const promoted = reports.filter((r) => r.gate.promoted);
  const last = promoted[promoted.length - 1];
  return {
    kind: 'lmsi.report',
    version: 1,
    campaignId: input.campaignId,
    generatedAt: input.generatedAt ?? new Date().toISOString(),
    rounds: reports,
    currentModel: last ? { round: last.round, modelRef: last.modelOut, accuracy: last.gate.accuracy } : null,
    bestAccuracy: promoted.length > 0 ? Math.max(...promoted.map((r) => r.gate.accuracy)) : null,
    totalWallSeconds: reports.reduce((s, r) => s + r.wallSeconds, 0),
    ...(input.stopped ? { stopped: input.stopped } : {}),
  };
}

async function roundReport(r: RoundResult, store: ArtifactStore): Promise<RoundReport> {
  const finishReasons: Record<string, number> = {};
  for (const shard of r.sampling?.shards ?? []) {
    for (const [reason, n] of Object.entries(shard.finishReasons))
      finishReasons[reason] = (finishReasons[reason] ?? 0) + n;
  }
  const stats = r.vote?.stats;
  const context = roundContextLimits(r);
  return {
    round: r.round,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    wallSeconds: (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000,
    modelIn: r.modelIn,
    modelOut: r.modelOut,
    scores: modelScores(r.evaluation),
    gate: r.gate,
    generatedQuestions: r.generatedQuestions
      ? {
          sampled: r.generatedQuestions.sampled,
          added: r.generatedQuestions.added,
          unparseable: r.generatedQuestions.unparseable,
          duplicates: r.generatedQuestions.duplicates,
        }
      : null,
    sampling: r.sampling
      ? {
          questions: r.sampling.questions,
          paths: r.sampling.paths,
          shards: r.sampling.shards.length,
          finishReasons,
          resumedQuestions: r.sampling.shards.reduce((s, sh) => s + sh.resumedQuestions, 0),
        }
      : null,
    context:
      context.warnings.length > 0
        ? {
            skippedQuestions: context.skipped.reduce((n, s) => n + s.questions.length, 0),
            skipped: context.skipped.map((s) => ({
              step: s.step,
              questionIds: s.questions.map((q) => q.questionId),
            })),
            warnings: context.warnings,
          }
        : null,
    filtering:
      stats && r.vote
        ? {
            questions: stats.questions,
            questionsKept: stats.questionsKept,
            paths: stats.paths,
            keptPaths: stats.kept,
            droppedBy: stats.droppedBy,
            meanKeptConfidence: r.vote.meanKeptConfidence,
            confidenceHistogram: stats.confidenceHistogram,
          }
        : null,
    trainingSet: r.trainingSet
      ? {
          examples: r.trainingSet.examples,
          perFormat: r.trainingSet.perFormat,
          replayed: r.trainingSet.replayed,
        }
      : null,
    policySet: r.policySet
      ? {
          examples: r.policySet.examples,
          questions: r.policySet.questions,
          questionsWithoutSignal: r.policySet.questionsWithoutSignal,
          meanReward: r.policySet.meanReward,
        }
      : null,
    training: r.training ? await trainingReport(r.training, store) : null,
    health: { sampled: r.vote?.health ?? null, evaluated: r.evaluation.summary.health ?? null },
    student: r.student
      ? {
          modelIn: r.student.modelIn,
          modelOut: r.student.modelOut,
          scores: modelScores(r.student.evaluation),
          training: r.student.training ? await trainingReport(r.student.training, store) : null,
        }
      : null,
    refs: {
      exemplars: r.exemplarsRef,
      generatedQuestions: r.generatedQuestions?.ref ?? null,
      sampleShards: r.sampling?.shards.map((s) => s.ref) ?? [],
      keptPaths: r.vote?.keptRef ?? null,
      votes: r.vote?.votesRef ?? null,
      trainingSet: r.trainingSet?.ref ?? null,
      policySet: r.policySet?.ref ?? null,
      lossCurve: r.training?.lossCurveRef ?? null,
      evaluationShards: r.evaluation.shards.map((s) => s.ref),
      evaluationDetails: r.evaluation.summary.detailsRef,
    },
  };
}

function modelScores(e: ModelEvaluation): ModelScores {
  const s = e.summary;
  return {
    questions: s.questions,
    greedyAccuracy: s.greedyAccuracy,
    scAccuracy: s.scAccuracy,
    scK: s.sc.length > 0 ? s.sc[s.sc.length - 1].k : 0,
    sc: s.sc,
    accuracyVsK: s.accuracyVsK,
    calibration: s.calibration.bins,
    expectedCalibrationError: s.calibration.ece,
  };
}

async function trainingReport(t: FineTuneResult, store: ArtifactStore): Promise<TrainingReport> {
  const curve = t.lossCurveRef ? await fullLossCurve(t.lossCurveRef, store) : t.lossCurve;
  return {
    trained: t.trained,
    steps: t.steps,
    examples: t.examples,
    tokensSeen: t.tokensSeen,
    finalLoss: t.finalLoss,
    resumedFromStep: t.resumedFromStep,
    lossCurve: curve.map(({ step, loss }) => ({ step, loss })),
  };
}

async function fullLossCurve(ref: string, store: ArtifactStore): Promise<{ step: number; loss: number }[]> {
  const parsed = LossCurve.safeParse(await store.getJson(ref));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`loss curve ${ref}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}
