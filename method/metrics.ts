import { binEdges, confidenceBin } from './bins';
import { deriveSeed, Rng } from '../base/rng';
import { FORMAT_NAMES } from './types';
import type { FormatName, Question, Task } from './types';
import { majorityVote } from './vote';
import type { VoteResult, VoteWeighting, VotingPath } from './vote';

/**
 * The paper's step 6: how good a model is on a labeled evaluation set. Gold answers are used here
 * and nowhere in steps 1-5.
 */

export interface Accuracy {
  correct: number;
  total: number;
  /** correct / total. */
  accuracy: number;
}

function gold(question: Question): string[] {
  if (question.gold === null) throw new Error(`metrics: question ${question.id} has no gold answer`);
  return question.gold;
}

function accuracy(correct: number, total: number, what: string): Accuracy {
  if (total === 0) throw new Error(`${what}: no questions to score`);
  return { correct, total, accuracy: correct / total };
}

/** A completion's extracted answer and whether it matches the question's gold. */
export function scoreCompletion(
  task: Task,
  question: Question,
  text: string,
): { prediction: string | null; correct: boolean } {
  const prediction = task.extractAnswer(text, question);
  return { prediction, correct: prediction !== null && task.isCorrect(prediction, gold(question), question) };
}

/** Accuracy of one (greedy, T = 0) completion per question; an abstention is wrong. */
export function greedyAccuracy(
  task: Task,
  items: readonly { question: Question; text: string }[],
): Accuracy & { abstained: number } {
  let correct = 0;
  let abstained = 0;
  for (const { question, text } of items) {
    const s = scoreCompletion(task, question, text);
    if (s.prediction === null) abstained++;
    if (s.correct) correct++;
  }
  return { ...accuracy(correct, items.length, 'greedyAccuracy'), abstained };
}

/** Accuracy of each prompt format's completions (formats absent from `items` are absent here). */
export function perFormatAccuracy(
  task: Task,
  items: readonly { format: FormatName; question: Question; text: string }[],
): Partial<Record<FormatName, Accuracy>> {
  const out: Partial<Record<FormatName, Accuracy>> = {};
  for (const format of FORMAT_NAMES) {
    const mine = items.filter((i) => i.format === format);
    if (mine.length === 0) continue;
    const correct = mine.filter((i) => scoreCompletion(task, i.question, i.text).correct).length;
    out[format] = accuracy(correct, mine.length, 'perFormatAccuracy');
  }
  return out;
}

/** A question's m sampled paths, answers already normalised (see answerPaths). */
export interface SampledQuestion {
  question: Question;
  paths: readonly VotingPath[];
}

export interface SelfConsistencyOptions {
  /** Subsets of k paths averaged per question when k < m. Default 10 (the self-consistency paper
   * averages 10 runs). With k >= m the one vote over all paths is exact and no subset is drawn. */
  draws?: number;
  seed: number | string;
  weighting?: VoteWeighting;
}

export interface SelfConsistencyAccuracy {
  k: number;
  /** Mean over questions of the fraction of draws whose majority answer is correct. */
  accuracy: number;
  /** That mean times the number of questions (fractional when draws disagree). */
  expectedCorrect: number;
  total: number;
  draws: number;
}

/**
 * SC@k: accuracy of the majority vote over k paths, estimated from one set of m samples per question
 * by voting on `draws` subsets of k of its paths (drawn without replacement from a stream seeded by
 * (seed, k, question id, draw), so adding questions changes no other question's subsets). A question
 * with fewer than k paths votes on all it has. Majority answers are normalised, which isCorrect
 * accepts because normalisation is idempotent.
 */
export function selfConsistencyAccuracy(
  task: Task,
  items: readonly SampledQuestion[],
  k: number,
  options: SelfConsistencyOptions,
): SelfConsistencyAccuracy {
  const draws = options.draws ?? 10;
  if (!Number.isInteger(k) || k < 1)
    throw new RangeError(`selfConsistencyAccuracy: k must be a positive integer, got ${k}`);
  if (!Number.isInteger(draws) || draws < 1)
    throw new RangeError(`selfConsistencyAccuracy: draws must be a positive integer, got ${draws}`);
  let sum = 0;
  for (const { question, paths } of items) {
    const isRight = correctnessOf(task, question);
    const vote = (subset: readonly VotingPath[]) =>
      isRight(majorityVote(subset, { weighting: options.weighting }));
    if (k >= paths.length) {
      sum += vote(paths) ? 1 : 0;
      continue;
    }
    let right = 0;
    for (let d = 0; d < draws; d++) {
      const rng = new Rng(deriveSeed(options.seed, 'sc@k', k, question.id, d));
      if (vote(sampleWithoutReplacement(paths, k, rng))) right++;
    }
    sum += right / draws;
  }
  if (items.length === 0) throw new Error('selfConsistencyAccuracy: no questions to score');
  return { k, accuracy: sum / items.length, expectedCorrect: sum, total: items.length, draws };
}

/**
 * The accuracy-vs-k curve of the self-consistency paper. Default ks: 1, 2, 4, ... up to the largest
 * m, and that m itself.
 */
export function accuracyVsK(
  task: Task,
  items: readonly SampledQuestion[],
  options: SelfConsistencyOptions & { ks?: readonly number[] },
): SelfConsistencyAccuracy[] {
  const maxM = items.reduce((mx, i) => Math.max(mx, i.paths.length), 0);
  const ks = options.ks ?? defaultKs(maxM);
  return ks.map((k) => selfConsistencyAccuracy(task, items, k, options));
}

function defaultKs(maxM: number): number[] {
  const ks: number[] = [];
  for (let k = 1; k < maxM; k *= 2) ks.push(k);
  if (maxM >= 1) ks.push(maxM);
  return ks;
}

function correctnessOf(task: Task, question: Question): (vote: VoteResult) => boolean {
  const golds = gold(question);
  const cache = new Map<string, boolean>();
  return (vote) => {
    if (vote.answer === null) return false;
    let right = cache.get(vote.answer);
    if (right === undefined) {
      right = task.isCorrect(vote.answer, golds, question);
      cache.set(vote.answer, right);
    }
    return right;
  };
}

/** k of the items, uniformly, by a partial Fisher-Yates shuffle. */
function sampleWithoutReplacement<T>(items: readonly T[], k: number, rng: Rng): T[] {
  const pool = items.slice();
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.next() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k);
}

/** A question's majority answer, its confidence and whether it is right: the calibration table's rows. */
export interface ScoredVote {
  questionId: string;
  answer: string | null;
  confidence: number;
  correct: boolean;
}

export function scoreVotes(
  task: Task,
  items: readonly { question: Question; vote: VoteResult }[],
): ScoredVote[] {
  return items.map(({ question, vote }) => ({
    questionId: question.id,
    answer: vote.answer,
    confidence: vote.confidence,
    correct: correctnessOf(task, question)(vote),
  }));
}

export interface CalibrationBin {
  lo: number;
  hi: number;
  count: number;
  correct: number;
  /** null for an empty bin. */
  accuracy: number | null;
  meanConfidence: number | null;
}

export interface CalibrationTable {
  bins: CalibrationBin[];
  count: number;
  /** Expected calibration error: sum over bins of (count / total) * |accuracy - mean confidence|. */
  ece: number;
}

/**
 * Confidence bin -> accuracy: the paper's evidence that confidence (vote share) predicts correctness,
 * which is why high-confidence paths are worth training on. Equal-width bins over [0, 1], default 10.
 */
export function calibrationTable(
  rows: readonly { confidence: number; correct: boolean }[],
  options: { bins?: number } = {},
): CalibrationTable {
  const n = options.bins ?? 10;
  const sums = binEdges(n).map((e) => ({ ...e, count: 0, correct: 0, confidence: 0 }));
  for (const row of rows) {
    const bin = sums[confidenceBin(row.confidence, n)];
    bin.count++;
    bin.confidence += row.confidence;
    if (row.correct) bin.correct++;
  }
  let ece = 0;
  const bins = sums.map(({ lo, hi, count, correct, confidence }) => {
    if (count === 0) return { lo, hi, count, correct, accuracy: null, meanConfidence: null };
    const acc = correct / count;
    const meanConfidence = confidence / count;
    ece += (count / rows.length) * Math.abs(acc - meanConfidence);
    return { lo, hi, count, correct, accuracy: acc, meanConfidence };
  });
  return { bins, count: rows.length, ece };
}

/**
 * Mean F1 (DROP's metric) over questions. `f1` scores one prediction against a question's gold
 * alternatives, taking the best over them as DROP's official script does (e.g. the DROP task's
 * `dropF1`); a null prediction (an abstention) must score 0.
 */
export function meanF1(
  items: readonly { prediction: string | null; gold: readonly string[] }[],
  f1: (prediction: string | null, golds: readonly string[]) => number,
): { meanF1: number; total: number } {
  if (items.length === 0) throw new Error('meanF1: no questions to score');
  const sum = items.reduce((s, { prediction, gold }) => s + f1(prediction, gold), 0);
  return { meanF1: sum / items.length, total: items.length };
}
