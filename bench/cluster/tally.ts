import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { QuestionEvaluation, QuestionSamples, RoundResult } from '../../contract';
import type { ArtifactStore } from '../../store';
import { outcome } from '../../testing/fault-campaign';

/**
 * What a finished campaign left in the bucket, counted and hashed so a faulted run can be held to
 * an uninterrupted one: every question sampled once with its m paths (none duplicated, none lost),
 * and the bytes of the self-training set and the round metrics.
 */
export interface CampaignTally {
  rounds: number[];
  sampling: {
    questions: number;
    records: number;
    paths: number;
    duplicateQuestions: number;
    missingQuestions: number;
    /** Questions whose record does not hold exactly m paths with path indexes 0..m-1. */
    questionsWithWrongPaths: number;
  };
  evaluation: { questions: number; records: number; duplicateQuestions: number; missingQuestions: number };
  keptPaths: number;
  trainingExamples: number;
  sha256: {
    /** The kept paths (voteAndFilter's keptRef) of every round, in round order. */
    keptPaths: string;
    /** The self-training set (buildTrainingSet's examples) of every round, in round order. */
    trainingSet: string;
    /** Every round's evaluation summary (greedy and self-consistency accuracy, calibration). */
    metrics: string;
    /** Every ref, count and metric of every round (testing/fault-campaign.ts outcome). */
    outcome: string;
  };
  metrics: { round: number; greedyAccuracy: number | null; scAccuracy: number }[];
}

const sha256 = (parts: (Buffer | string)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

async function idsOf(store: ArtifactStore, ref: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const q of store.readJsonl<{ id: string }>(ref)) ids.push(q.id);
  return ids;
}

function dupesAndMissing(seen: string[], expected: string[]) {
  const set = new Set(seen);
  return {
    duplicateQuestions: seen.length - set.size,
    missingQuestions: expected.filter((id) => !set.has(id)).length,
  };
}

export async function tallyCampaign(
  store: ArtifactStore,
  rounds: RoundResult[],
  m: number,
): Promise<CampaignTally> {
  const sampling = {
    questions: 0,
    records: 0,
    paths: 0,
    duplicateQuestions: 0,
    missingQuestions: 0,
    questionsWithWrongPaths: 0,
  };
  const evaluation = { questions: 0, records: 0, duplicateQuestions: 0, missingQuestions: 0 };
  const kept: Buffer[] = [];
  const training: Buffer[] = [];
  let keptPaths = 0;
  let trainingExamples = 0;
  for (const r of rounds) {
    if (r.sampling) {
      const expected = await idsOf(store, r.datasetRef!);
      const seen: string[] = [];
      for (const s of r.sampling.shards) {
        for await (const q of store.readJsonl<QuestionSamples>(s.ref)) {
          seen.push(q.questionId);
          sampling.paths += q.paths.length;
          const indexes = q.paths.map((p) => p.pathIndex).sort((a, b) => a - b);
          if (indexes.length !== m || indexes.some((x, i) => x !== i)) sampling.questionsWithWrongPaths++;
        }
      }
      sampling.questions += expected.length;
      sampling.records += seen.length;
      const d = dupesAndMissing(seen, expected);
      sampling.duplicateQuestions += d.duplicateQuestions;
      sampling.missingQuestions += d.missingQuestions;
    }
    const expectedEval = r.evalRef ? await idsOf(store, r.evalRef) : [];
    const seenEval: string[] = [];
    for (const s of r.evaluation.shards) {
      for await (const q of store.readJsonl<QuestionEvaluation>(s.ref)) seenEval.push(q.questionId);
    }
    evaluation.questions += expectedEval.length;
    evaluation.records += seenEval.length;
    const d = dupesAndMissing(seenEval, expectedEval);
    evaluation.duplicateQuestions += d.duplicateQuestions;
    evaluation.missingQuestions += d.missingQuestions;
    if (r.vote) {
      kept.push(await store.get(r.vote.keptRef));
      keptPaths += r.vote.stats.kept;
    }
    if (r.trainingSet) {
      training.push(await store.get(r.trainingSet.ref));
      trainingExamples += r.trainingSet.examples;
    }
  }
  const summaries = rounds.map((r) => r.evaluation.summary);
  return {
    rounds: rounds.map((r) => r.round),
    sampling,
    evaluation,
    keptPaths,
    trainingExamples,
    sha256: {
      keptPaths: sha256(kept),
      trainingSet: sha256(training),
      metrics: sha256([JSON.stringify(summaries)]),
      outcome: sha256([JSON.stringify(await Promise.all(rounds.map((r) => outcome('', r))))]),
    },
    metrics: rounds.map((r) => ({
      round: r.round,
      greedyAccuracy: r.evaluation.summary.greedyAccuracy,
      scAccuracy: r.evaluation.summary.scAccuracy,
    })),
  };
}

/** Per worker identity, how many activities of each type it completed (the round workflows' histories). */
export async function completedBy(
  client: Client,
  workflowIds: string[],
): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const id of workflowIds) {
    for (const a of await activityAttempts(client, id)) {
      if (!a.completed) continue;
      out[a.identity] ??= {};
      out[a.identity][a.type] = (out[a.identity][a.type] ?? 0) + 1;
    }
  }
  return out;
}

export interface ActivityAttempt {
  activityId: string;
  type: string;
  attempt: number;
  identity: string;
  completed: boolean;
}

/** The attempt of each activity of a workflow that the history records as started, and if it completed. */
export async function activityAttempts(client: Client, workflowId: string): Promise<ActivityAttempt[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, { activityId: string; type: string }>();
  const out = new Map<string, ActivityAttempt>();
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      scheduled.set(String(e.eventId), { activityId: a.activityId ?? '', type: a.activityType?.name ?? '' });
    } else if (e.activityTaskStartedEventAttributes) {
      const a = e.activityTaskStartedEventAttributes;
      const s = String(a.scheduledEventId);
      out.set(s, {
        ...scheduled.get(s)!,
        attempt: a.attempt ?? 0,
        identity: a.identity ?? '',
        completed: false,
      });
    } else if (e.activityTaskCompletedEventAttributes) {
      const s = String(e.activityTaskCompletedEventAttributes.scheduledEventId);
      const a = out.get(s);
      if (a) a.completed = true;
    }
  }
  return [...out.values()];
}
