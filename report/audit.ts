import type { CampaignConfig } from '../config/campaign';
import { splitRationale } from '../method/formats';
import { FilterOptions, type DropReason } from '../method/filter';
import type { ScoredVote } from '../method/metrics';
import { getTask } from '../method/tasks';
import type { Question, Task } from '../method/types';
import { majorityReward, trainedSubset } from '../method/ttrl';
import { answerPaths, majorityVote, type VoteWeighting } from '../method/vote';
import type { ArtifactStore } from '../store';
import type {
  PolicyRecord,
  QuestionEvaluation,
  QuestionSamples,
  RoundResult,
  StoredPath,
  TaskRef,
  VoteRecord,
} from '../contract';
import { buildReport } from './build';
import type { ModelScores, RoundReport } from './types';

/**
 * `lmsi audit`: a round's lineage (every artifact it read and wrote, with the stats of each step)
 * and, for one question, every sampled path with its extracted answer, the vote, the confidence and
 * whether the filter kept it. Everything is read back from the round's artifacts, so the audit
 * shows what was recorded, and re-extracting the answers checks that record against the task.
 */

/**
 * A round's result and what a round records beyond RoundResult today: the task, the config and the
 * datasets it read. Absent fields come from the caller (`--task`, `--config`) or are shown unknown.
 */
export type AuditedRound = RoundResult & {
  task?: TaskRef;
  config?: CampaignConfig;
  /** The unlabeled pool this round sampled from (with its self-generated questions). */
  datasetRef?: string | null;
  evalRef?: string | null;
};

export interface AuditContext {
  campaignId: string;
  store: ArtifactStore;
  /** Overrides (or stands in for) the round's recorded task. */
  task?: TaskRef;
  /** Overrides (or stands in for) the round's recorded config. */
  config?: CampaignConfig;
}

export interface RoundAudit {
  campaignId: string;
  round: number;
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  task: TaskRef | null;
  config: CampaignConfig | null;
  lineage: {
    modelIn: string;
    modelOut: string;
    datasetRef: string | null;
    evalRef: string | null;
    exemplarsRef: string | null;
    generatedQuestionsRef: string | null;
    sampleShards: { ref: string; questions: number; paths: number }[];
    votesRef: string | null;
    keptRef: string | null;
    trainingSetRef: string | null;
    policySetRef: string | null;
    lossCurveRef: string | null;
    evaluationShards: { ref: string; questions: number; paths: number }[];
    evaluationDetailsRef: string;
    student: { modelIn: string; modelOut: string } | null;
  };
  sampling: RoundReport['sampling'];
  /** Questions skipped because their prompt is longer than the model's context, and clips. */
  context: RoundReport['context'];
  /** Read from the votes artifact: how the questions were voted. */
  vote: {
    questions: number;
    meanConfidence: number | null;
    unanimous: number;
    allAbstained: number;
    /** Questions by number of distinct answers among their paths. */
    distinctAnswers: { answers: number; questions: number }[];
    confidenceHistogram: { lo: number; hi: number; questions: number; keptPaths: number }[];
  } | null;
  filter: RoundReport['filtering'];
  trainingSet: RoundReport['trainingSet'];
  policySet: RoundReport['policySet'];
  training: RoundReport['training'];
  metrics: ModelScores;
  /** Label-free health of the sampled paths and of the evaluated model's paths (method/health.ts). */
  health: RoundReport['health'];
  student: RoundReport['student'];
  gate: RoundResult['gate'];
}

export function roundTask(result: AuditedRound, ctx: AuditContext): TaskRef | null {
  if (ctx.task) return ctx.task;
  if (result.task) return result.task;
  const config = ctx.config ?? result.config;
  if (!config) return null;
  const { name, ...options } = config.task;
  return Object.keys(options).length > 0 ? { name, options } : { name };
}

export async function auditRound(result: AuditedRound, ctx: AuditContext): Promise<RoundAudit> {
  const [report] = (await buildReport({ campaignId: ctx.campaignId, rounds: [result], store: ctx.store }))
    .rounds;
  const shard = (s: { ref: string; questions: number; paths: number }) => ({
    ref: s.ref,
    questions: s.questions,
    paths: s.paths,
  });
  return {
    campaignId: ctx.campaignId,
    round: result.round,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    wallSeconds: report.wallSeconds,
    task: roundTask(result, ctx),
    config: ctx.config ?? result.config ?? null,
    lineage: {
      modelIn: result.modelIn,
      modelOut: result.modelOut,
      datasetRef: result.datasetRef ?? result.generatedQuestions?.ref ?? null,
      evalRef: result.evalRef ?? null,
      exemplarsRef: result.exemplarsRef,
      generatedQuestionsRef: result.generatedQuestions?.ref ?? null,
      sampleShards: result.sampling?.shards.map(shard) ?? [],
      votesRef: result.vote?.votesRef ?? null,
      keptRef: result.vote?.keptRef ?? null,
      trainingSetRef: result.trainingSet?.ref ?? null,
      policySetRef: result.policySet?.ref ?? null,
      lossCurveRef: result.training?.lossCurveRef ?? null,
      evaluationShards: result.evaluation.shards.map(shard),
      evaluationDetailsRef: result.evaluation.summary.detailsRef,
      student: result.student ? { modelIn: result.student.modelIn, modelOut: result.student.modelOut } : null,
    },
    sampling: report.sampling,
    context: report.context,
    vote: result.vote ? await voteStats(ctx.store, result.vote.votesRef, report) : null,
    filter: report.filtering,
    trainingSet: report.trainingSet,
    policySet: report.policySet,
    training: report.training,
    metrics: report.scores,
    health: report.health,
    student: report.student,
    gate: result.gate,
  };
}

async function voteStats(
  store: ArtifactStore,
  votesRef: string,
  report: RoundReport,
): Promise<RoundAudit['vote']> {
  let questions = 0;
  let confidenceSum = 0;
  let unanimous = 0;
  let allAbstained = 0;
  const distinct = new Map<number, number>();
  for await (const v of store.readJsonl<VoteRecord>(votesRef)) {
    questions++;
    confidenceSum += v.confidence;
    if (v.answer === null) allAbstained++;
    else if (v.votes === v.m) unanimous++;
    distinct.set(v.tally.length, (distinct.get(v.tally.length) ?? 0) + 1);
  }
  return {
    questions,
    meanConfidence: questions > 0 ? confidenceSum / questions : null,
    unanimous,
    allAbstained,
    distinctAnswers: [...distinct.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([answers, n]) => ({ answers, questions: n })),
    confidenceHistogram: report.filtering?.confidenceHistogram ?? [],
  };
}

/** One path as the audit shows it: what it said, the answer read from it, and what the filter did. */
export interface AuditedPath {
  pathIndex: number;
  text: string;
  finishReason: StoredPath['finishReason'];
  tokens: number;
  sumLogprob: number;
  /** The answer as the path stated it (task.extractAnswer), null when it abstained. */
  stated: string | null;
  /** The normalised answer that was voted on. */
  answer: string | null;
  /** Sampled questions only: whether the path went into the self-training set. */
  kept: boolean | null;
  /** Why the filter dropped it: a DropReason, or "filtered" when the filter options are unknown. */
  dropReason: DropReason | 'filtered' | null;
  /**
   * strategy 'ttrl', a trained path: its reward (agreement with the majority) and GRPO advantage, as
   * the policy set recorded them (advantage 0 for a question left out without signal); else null.
   */
  policy?: { reward: number; advantage: number } | null;
}

export interface QuestionAudit {
  campaignId: string;
  round: number;
  questionId: string;
  task: TaskRef;
  /** The question's record in the round's dataset snapshot, when the round names it. */
  question: Question | null;
  /** The question among the round's unlabeled questions: sampled, voted on, filtered. */
  sampled: {
    shardRef: string;
    prompt: string;
    paths: AuditedPath[];
    /** The vote as recorded in the votes artifact. */
    vote: Omit<VoteRecord, 'questionId'>;
    /** The majority answer voted again from the re-extracted answers; it must equal the record's. */
    revotedAnswer: string | null;
    consistent: boolean;
    /**
     * strategy 'ttrl': whether the question's trained paths went into the update (false: they all
     * earned the same reward) and whether the rewards recomputed from the re-extracted answers are
     * the recorded ones.
     */
    policy?: { inSet: boolean; trainedPaths: number; rewardsConsistent: boolean } | null;
  } | null;
  /** The question among the evaluation questions (after this round's fine-tuning). */
  evaluated: {
    shardRef: string;
    greedy: { text: string; stated: string | null; answer: string | null } | null;
    paths: AuditedPath[];
    /** The majority vote and whether it was right, as recorded in the evaluation details. */
    vote: { answer: string | null; confidence: number; correct: boolean } | null;
    gold: string[] | null;
  } | null;
}

async function findLine<T extends { questionId: string }>(
  store: ArtifactStore,
  refs: string[],
  questionId: string,
): Promise<{ ref: string; record: T } | null> {
  for (const ref of refs) {
    for await (const record of store.readJsonl<T>(ref)) {
      if (record.questionId === questionId) return { ref, record };
    }
  }
  return null;
}

async function findQuestion(
  store: ArtifactStore,
  ref: string | null | undefined,
  id: string,
): Promise<Question | null> {
  if (!ref) return null;
  for await (const q of store.readJsonl<Question>(ref)) if (q.id === id) return q;
  return null;
}

/** A stand-in when the round does not name its dataset: answer extraction then sees no choices. */
function standIn(id: string, text: string): Question {
  return { id, text, gold: null, source: { file: '(not recorded)', line: 0 } };
}

function answered(task: Task, question: Question, paths: StoredPath[]) {
  return answerPaths(
    task,
    question,
    paths.map((p) => ({ ...p, questionId: question.id })),
  );
}

/**
 * Why a path that agreed with the majority was not kept, for votes recorded before the vote record
 * kept each dropped path's reason: the first of keepConsistentPaths' checks that applies, in its
 * order (lowConfidence, tooLong, duplicate, overCap).
 */
function filteredReason(
  path: { text: string },
  confidence: number,
  keptBefore: { text: string }[],
  options: FilterOptions,
): DropReason {
  const opts = FilterOptions.parse(options);
  if (confidence < opts.minConfidence) return 'lowConfidence';
  if (opts.maxChars !== undefined && path.text.length > opts.maxChars) return 'tooLong';
  const key = (t: string) => splitRationale(t).rationale.replace(/\s+/g, ' ');
  if (opts.dedupe && keptBefore.some((k) => key(k.text) === key(path.text))) return 'duplicate';
  return 'overCap';
}

/**
 * A TTRL round's rewards for one question: from its policy set's records when the question went into
 * the update, else recomputed for its first `trainedPaths` paths (advantage 0: no signal). Fills in
 * each audited path's `policy` and checks the recorded rewards against the re-extracted answers.
 */
async function auditRewards(
  store: ArtifactStore,
  policySetRef: string,
  questionId: string,
  paths: AuditedPath[],
  majority: string | null,
  trainedPaths: number | undefined,
): Promise<NonNullable<NonNullable<QuestionAudit['sampled']>['policy']>> {
  const recorded = new Map<number, PolicyRecord>();
  for await (const r of store.readJsonl<PolicyRecord>(policySetRef))
    if (r.questionId === questionId) recorded.set(r.pathIndex, r);
  const inSet = recorded.size > 0;
  const trained = inSet
    ? paths.filter((p) => recorded.has(p.pathIndex))
    : trainedPaths === undefined
      ? []
      : trainedSubset(paths, trainedPaths);
  let rewardsConsistent = true;
  for (const p of trained) {
    const reward = majorityReward(p, majority);
    const record = recorded.get(p.pathIndex);
    if (record && record.reward !== reward) rewardsConsistent = false;
    p.policy = { reward: record?.reward ?? reward, advantage: record?.advantage ?? 0 };
  }
  return { inSet, trainedPaths: trained.length, rewardsConsistent };
}

export async function auditQuestion(
  result: AuditedRound,
  questionId: string,
  ctx: AuditContext,
): Promise<QuestionAudit> {
  const taskRef = roundTask(result, ctx);
  if (!taskRef) {
    throw new Error(
      `round ${result.round} does not record its task: pass --task <name> or -c/--config <campaign config>`,
    );
  }
  const task = getTask(taskRef.name, taskRef.options);
  const config = ctx.config ?? result.config;
  const weighting: VoteWeighting = config?.voting.weighting ?? 'count';
  const datasetRef = result.datasetRef ?? result.generatedQuestions?.ref ?? null;

  let sampled: QuestionAudit['sampled'] = null;
  let question: Question | null = null;
  const samples = await findLine<QuestionSamples>(
    ctx.store,
    result.sampling?.shards.map((s) => s.ref) ?? [],
    questionId,
  );
  if (samples) {
    question = await findQuestion(ctx.store, datasetRef, questionId);
    // Labels are never part of voting: the record is read as the vote saw it.
    const asVoted = question ? { ...question, gold: null } : standIn(questionId, samples.record.prompt);
    const vote = result.vote
      ? await findLine<VoteRecord>(ctx.store, [result.vote.votesRef], questionId)
      : null;
    if (!vote)
      throw new Error(`question ${questionId} was sampled in round ${result.round} but has no vote record`);
    const paths = answered(task, asVoted, samples.record.paths);
    const revote = majorityVote(paths, { weighting });
    const keptIndexes = new Set(vote.record.keptPathIndexes);
    // Why each dropped path went, as the vote recorded it; votes recorded before the reasons were
    // have them rebuilt from the round's filter options (recordedReasons is null then).
    const recordedReasons = vote.record.dropped
      ? new Map(vote.record.dropped.map((d) => [d.pathIndex, d.reason]))
      : null;
    const keptBefore: { text: string }[] = [];
    const audited: AuditedPath[] = [];
    for (const p of [...paths].sort((a, b) => a.pathIndex - b.pathIndex)) {
      const stored = samples.record.paths.find((s) => s.pathIndex === p.pathIndex)!;
      const kept = keptIndexes.has(p.pathIndex);
      let dropReason: AuditedPath['dropReason'] = null;
      if (!kept && recordedReasons) {
        dropReason = recordedReasons.get(p.pathIndex) ?? 'filtered';
      } else if (!kept) {
        if (p.answer === null) dropReason = 'abstain';
        else if (p.answer !== vote.record.answer) dropReason = 'disagree';
        else
          dropReason = config
            ? filteredReason(p, vote.record.confidence, keptBefore, config.filtering)
            : 'filtered';
      } else {
        keptBefore.push(p);
      }
      audited.push({
        pathIndex: p.pathIndex,
        text: p.text,
        finishReason: p.finishReason,
        tokens: stored.tokens,
        sumLogprob: p.sumLogprob,
        stated: p.stated,
        answer: p.answer,
        kept,
        dropReason,
      });
    }
    const { questionId: _id, ...recorded } = vote.record;
    sampled = {
      shardRef: samples.ref,
      prompt: samples.record.prompt,
      paths: audited,
      vote: recorded,
      revotedAnswer: revote.answer,
      consistent: revote.answer === recorded.answer && revote.votes === recorded.votes,
      ...(result.policySet
        ? {
            policy: await auditRewards(
              ctx.store,
              result.policySet.ref,
              questionId,
              audited,
              recorded.answer,
              config?.ttrl.trainedPaths,
            ),
          }
        : {}),
    };
  }

  let evaluated: QuestionAudit['evaluated'] = null;
  const evaluation = await findLine<QuestionEvaluation>(
    ctx.store,
    result.evaluation.shards.map((s) => s.ref),
    questionId,
  );
  if (evaluation) {
    const evalQuestion = await findQuestion(ctx.store, result.evalRef, questionId);
    question ??= evalQuestion;
    const q = evalQuestion ?? standIn(questionId, '');
    const details = await findLine<ScoredVote>(ctx.store, [result.evaluation.summary.detailsRef], questionId);
    const greedy = evaluation.record.greedy;
    const greedyAnswer = greedy ? answered(task, q, [greedy])[0] : null;
    evaluated = {
      shardRef: evaluation.ref,
      greedy:
        greedy && greedyAnswer
          ? { text: greedy.text, stated: greedyAnswer.stated, answer: greedyAnswer.answer }
          : null,
      paths: answered(task, q, evaluation.record.paths).map((p, i) => ({
        pathIndex: p.pathIndex,
        text: p.text,
        finishReason: p.finishReason,
        tokens: evaluation.record.paths[i].tokens,
        sumLogprob: p.sumLogprob,
        stated: p.stated,
        answer: p.answer,
        kept: null,
        dropReason: null,
      })),
      vote: details
        ? {
            answer: details.record.answer,
            confidence: details.record.confidence,
            correct: details.record.correct,
          }
        : null,
      gold: evalQuestion?.gold ?? null,
    };
  }

  if (!sampled && !evaluated) {
    const skipped = [...(result.sampling?.shards ?? []), ...result.evaluation.shards]
      .flatMap((s) => s.skipped ?? [])
      .find((s) => s.questionId === questionId);
    if (skipped)
      throw new Error(
        `question ${questionId} was skipped in round ${result.round}: its prompt has ${skipped.promptTokens} ` +
          `tokens, longer than the model's context (${skipped.maxPositions} positions)`,
      );
    throw new Error(
      `question ${questionId} is in neither the sampled nor the evaluation shards of round ${result.round}`,
    );
  }
  return {
    campaignId: ctx.campaignId,
    round: result.round,
    questionId,
    task: taskRef,
    question,
    sampled,
    evaluated,
  };
}
