import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBuildTrainingSet } from '../../activities/build-training-set';
import { makeSummarizeEvaluation } from '../../activities/evaluation';
import { makeVoteAndFilter } from '../../activities/vote-and-filter';
import type { Question } from '../../method/types';
import type { AuditedRound } from '../../report';
import { LocalArtifactStore } from '../../store';
import type {
  FineTuneResult,
  GateDecision,
  QuestionEvaluation,
  QuestionSamples,
  ShardResult,
  StoredPath,
} from '../../contract';

/**
 * A three-round arith campaign (round 0 evaluates the base model, rounds 1 and 2 self-improve) made
 * without a model: the sampled paths are written by hand, and the artifacts a round leaves (votes,
 * kept paths, training set, evaluation details) are made by the real light activities from them,
 * so every ref in the RoundResults points at an artifact of the real shape.
 *
 * By construction:
 *   evaluation (gold e1..e4 = 10, 20, 30, 40; m = 4):
 *     round 0: greedy 1/4; votes e1 10 (.75, right) e2 20 (.5, right) e3 1 (.5, wrong) e4 7 (.75, wrong): SC@4 2/4
 *     round 1: greedy 2/4; votes e1 10 (1) e2 20 (.75) e3 30 (.5) right, e4 7 (.75) wrong: SC@4 3/4
 *     round 2: greedy 1/4 (not promoted: below the best .5 by more than the .1 tolerance); votes as round 1
 *   sampling (u1, u2 in shard 0, u3 in shard 1):
 *     u1: 5 5 5 6 (.75)   u2: 7 7 - 8 (.5, path 2 abstains)   u3: 9 9 9 9 (1)
 *     round 1 (no limits): kept 3 + 2 + 4 = 9; disagree 2, abstain 1
 *     round 2 (minConfidence .6, maxPerQuestion 3): kept 3 + 0 + 3 = 6; disagree 2, abstain 1,
 *       lowConfidence 2 (u2), overCap 1 (u3's path 3)
 */

export const TOLERANCE = 0.1;
export const ROUND2_FILTER = { minConfidence: 0.6, dedupe: false, maxPerQuestion: 3 };

export interface FakeCampaign {
  dir: string;
  store: LocalArtifactStore;
  rounds: AuditedRound[];
  unlabeledRef: string;
  evalRef: string;
  fullLossCurves: Record<number, { step: number; loss: number }[]>;
}

const path_ = (pathIndex: number, text: string): StoredPath => ({
  pathIndex,
  text,
  sumLogprob: -3 - pathIndex / 4,
  finishReason: 'stop',
  tokens: text.length,
});

/** A path per answer (null: a path that states none). */
function paths(round: number, answers: (number | null)[]): StoredPath[] {
  return answers.map((a, i) =>
    path_(
      i,
      a === null
        ? `r${round} path ${i}: I am not sure.`
        : `r${round} path ${i}: ${a - 2} + 2 = ${a}. The answer is ${a}.`,
    ),
  );
}

function question(id: string, text: string, gold: string[] | null, line: number): Question {
  return { id, text, gold, source: { file: gold ? 'eval.jsonl' : 'unlabeled.jsonl', line } };
}

const UNLABELED = [
  question('u1', 'Ann has 3 apples and gets 2 more. How many apples does she have?', null, 1),
  question('u2', 'Bo has 5 pens and buys 2 more. How many pens does he have?', null, 2),
  question('u3', 'Cy has 7 cups and gets 2 more. How many cups does he have?', null, 3),
];
const EVAL = [
  question('e1', 'Dee has 8 hats and gets 2 more. How many hats?', ['10'], 1),
  question('e2', 'Eli has 18 keys and gets 2 more. How many keys?', ['20'], 2),
  question('e3', 'Fay has 28 mugs and gets 2 more. How many mugs?', ['30'], 3),
  question('e4', 'Gus has 38 bags and gets 2 more. How many bags?', ['40'], 4),
];

/** Per round: each evaluation question's greedy answer and m sampled answers. */
const EVALUATIONS: Record<number, { greedy: (number | null)[]; paths: (number | null)[][] }> = {
  0: {
    greedy: [10, 3, 4, 5],
    paths: [
      [10, 10, 10, 5],
      [20, 20, 3, 4],
      [1, 1, 30, 2],
      [null, 7, 7, 7],
    ],
  },
  1: {
    greedy: [10, 20, 3, 4],
    paths: [
      [10, 10, 10, 10],
      [20, 20, 20, 3],
      [30, 30, 1, 2],
      [7, 7, 7, 40],
    ],
  },
  2: {
    greedy: [10, 3, 4, 5],
    paths: [
      [10, 10, 10, 10],
      [20, 20, 20, 3],
      [30, 30, 1, 2],
      [7, 7, 7, 40],
    ],
  },
};
const SAMPLED: (number | null)[][] = [
  [5, 5, 5, 6],
  [7, 7, null, 8],
  [9, 9, 9, 9],
];

function shardResult(ref: string, records: { paths: StoredPath[] }[]): ShardResult {
  const n = records.reduce((s, r) => s + r.paths.length, 0);
  return {
    ref,
    questions: records.length,
    paths: n,
    finishReasons: { stop: n, eos: 0, length: 0 },
    resumedQuestions: 0,
  };
}

async function fakeModel(store: LocalArtifactStore, dir: string, name: string): Promise<string> {
  const model = path.join(dir, 'models', name);
  await fs.mkdir(model, { recursive: true });
  await fs.writeFile(path.join(model, 'config.json'), JSON.stringify({ name, hidden_size: 8 }));
  return (await store.putTree(model)).ref;
}

export async function makeFakeCampaign(): Promise<FakeCampaign> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmsi-report-'));
  const store = new LocalArtifactStore(path.join(dir, 'artifacts'));
  const deps = { store, cacheDir: path.join(dir, 'cache') };
  const task = { name: 'arith' as const };
  const unlabeledRef = (await store.putJsonl(UNLABELED)).ref;
  const evalRef = (await store.putJsonl(EVAL)).ref;

  const evaluate = async (round: number) => {
    const { greedy, paths: answers } = EVALUATIONS[round];
    const records: QuestionEvaluation[] = EVAL.map((q, i) => ({
      questionId: q.id,
      greedy: paths(round, [greedy[i]])[0],
      paths: paths(round, answers[i]),
    }));
    const shards = [records.slice(0, 2), records.slice(2)];
    const results = await Promise.all(shards.map(async (s) => shardResult((await store.putJsonl(s)).ref, s)));
    const summary = await makeSummarizeEvaluation(deps)({
      datasetRef: evalRef,
      shardRefs: results.map((r) => r.ref),
      task,
      scK: [2, 4],
      calibrationBins: 10,
      weighting: 'count',
      seed: `fake/round-${round}/evaluate`,
    });
    return { shards: results, summary };
  };

  const fullLossCurves: FakeCampaign['fullLossCurves'] = {};
  const fineTune = async (round: number, examples: number): Promise<FineTuneResult> => {
    const curve = Array.from({ length: 12 }, (_, i) => ({
      step: i + 1,
      loss: 2 / (round + 1) / (1 + i / 4),
    }));
    fullLossCurves[round] = curve;
    return {
      modelRef: await fakeModel(store, dir, `round-${round}`),
      trained: true,
      steps: curve.length,
      examples,
      finalLoss: curve[curve.length - 1].loss,
      lossCurve: curve.filter((_, i) => i % 4 === 0 || i === curve.length - 1),
      lossCurveRef: (await store.putJson(curve)).ref,
      tokensSeen: 1000 * examples,
      resumedFromStep: round === 2 ? 4 : 0,
    };
  };

  const gate = (promoted: boolean, accuracy: number, best: number | null, reason: string): GateDecision => ({
    promoted,
    accuracy,
    best,
    tolerance: TOLERANCE,
    reason,
  });

  const base = await fakeModel(store, dir, 'base');
  const rounds: AuditedRound[] = [
    {
      round: 0,
      modelIn: base,
      modelOut: base,
      exemplarsRef: null,
      generatedQuestions: null,
      sampling: null,
      vote: null,
      trainingSet: null,
      training: null,
      evaluation: await evaluate(0),
      student: null,
      gate: gate(true, 0.25, null, 'base model'),
      startedAt: '2025-01-02T10:00:00.000Z',
      finishedAt: '2025-01-02T10:00:30.000Z',
    },
  ];
  let model = base;
  for (const round of [1, 2]) {
    const records: QuestionSamples[] = UNLABELED.map((q, i) => ({
      questionId: q.id,
      prompt: `Q: ${q.text}\nA: Let's think step by step.`,
      paths: paths(round, SAMPLED[i]),
    }));
    const shards = [records.slice(0, 2), records.slice(2)];
    const sampled = await Promise.all(shards.map(async (s) => shardResult((await store.putJsonl(s)).ref, s)));
    const filter = round === 1 ? { minConfidence: 0, dedupe: false } : ROUND2_FILTER;
    const vote = await makeVoteAndFilter(deps)({
      datasetRef: unlabeledRef,
      shardRefs: sampled.map((s) => s.ref),
      task,
      weighting: 'count',
      filter,
    });
    const trainingSet = await makeBuildTrainingSet(deps)({
      keptRef: vote.keptRef,
      datasetRef: unlabeledRef,
      exemplarsRef: null,
      formats: ['zero-shot-cot', 'zero-shot-direct'],
      task,
      seed: `fake/round-${round}/format`,
      replayRef: null,
      replayRatio: 0,
    });
    const training = await fineTune(round, trainingSet.examples);
    const evaluation = await evaluate(round);
    const accuracy = evaluation.summary.greedyAccuracy!;
    const promoted = round === 1;
    rounds.push({
      round,
      modelIn: model,
      modelOut: training.modelRef,
      exemplarsRef: null,
      generatedQuestions: null,
      sampling: {
        shards: sampled,
        questions: sampled.reduce((s, r) => s + r.questions, 0),
        paths: sampled.reduce((s, r) => s + r.paths, 0),
      },
      vote,
      trainingSet,
      training,
      evaluation,
      student: null,
      gate: promoted
        ? gate(true, accuracy, 0.25, 'accuracy 25.0 points from the best (tolerance 10.0)')
        : gate(
            false,
            accuracy,
            0.5,
            'accuracy fell 25.0 points below the best, beyond the tolerance of 10.0',
          ),
      startedAt: `2025-01-02T10:0${round === 1 ? 1 : 6}:00.000Z`,
      finishedAt: `2025-01-02T10:0${round === 1 ? 5 : 9}:00.000Z`,
      // Round 1 records its task and datasets (as the audit asks of RoundResult); round 2 does not.
      ...(round === 1 ? { task, datasetRef: unlabeledRef, evalRef } : {}),
    });
    if (promoted) model = training.modelRef;
  }
  return { dir, store, rounds, unlabeledRef, evalRef, fullLossCurves };
}
