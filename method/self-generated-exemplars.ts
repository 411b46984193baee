import { splitRationale } from './formats';
import { deriveSeed, Rng } from '../base/rng';
import type { Exemplar, Task } from './types';
import type { AnsweredPath, VotedQuestion } from './vote';

/**
 * The paper's self-generated few-shot CoT prompts: sample questions with zero-shot CoT ("Let's think
 * step by step."), vote, and turn the most confident questions' majority paths into exemplars,
 * grouped into several templates (paper: 20 templates of 4 shots).
 */

export interface ExemplarSetOptions {
  task: Task;
  templates?: number; // default 20
  shots?: number; // default 4
  /** How many of the most confident questions the templates draw from; default templates × shots. */
  poolSize?: number;
  seed: number | string;
}

/**
 * The exemplar a question contributes: among the paths stating its majority answer with a rationale
 * and an explicit "The answer is" sentence, the most probable (highest sumLogprob, then lowest path
 * index). Null when it has none.
 */
export function exemplarFromVote(task: Task, candidate: VotedQuestion): Exemplar | null {
  const { vote } = candidate;
  if (vote.answer === null) return null;
  let best: { path: AnsweredPath; rationale: string } | null = null;
  for (const path of candidate.paths) {
    if (path.answer !== vote.answer || path.stated === null) continue;
    const split = splitRationale(path.text);
    if (split.answerSentence === null || split.rationale === '') continue;
    if (
      best === null ||
      path.sumLogprob > best.path.sumLogprob ||
      (path.sumLogprob === best.path.sumLogprob && path.pathIndex < best.path.pathIndex)
    ) {
      best = { path, rationale: split.rationale };
    }
  }
  if (best === null) return null;
  return {
    question: task.prompts.formatQuestion(candidate.question),
    rationale: best.rationale,
    answer: best.path.stated as string,
  };
}

/**
 * `templates` exemplar sets of `shots` distinct exemplars each, drawn (seeded per template) from the
 * pool of the most confident questions. Ties in confidence are ordered by a seeded shuffle of the
 * questions sorted by id, so the pool does not depend on the input order nor favour low ids.
 */
export function buildExemplarSets(
  candidates: readonly VotedQuestion[],
  options: ExemplarSetOptions,
): Exemplar[][] {
  const templates = options.templates ?? 20;
  const shots = options.shots ?? 4;
  const poolSize = options.poolSize ?? templates * shots;
  for (const [name, v] of [
    ['templates', templates],
    ['shots', shots],
    ['poolSize', poolSize],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`buildExemplarSets: ${name} must be a positive integer, got ${v}`);
  }
  const byId = candidates
    .slice()
    .sort((a, b) => (a.question.id < b.question.id ? -1 : a.question.id > b.question.id ? 1 : 0));
  const ranked = new Rng(deriveSeed(options.seed, 'exemplar-pool'))
    .shuffle(byId)
    .sort((a, b) => b.vote.confidence - a.vote.confidence);
  const pool: Exemplar[] = [];
  for (const c of ranked) {
    if (pool.length >= poolSize) break;
    const exemplar = exemplarFromVote(options.task, c);
    if (exemplar !== null) pool.push(exemplar);
  }
  if (pool.length < shots) {
    throw new Error(
      `buildExemplarSets: ${shots} shots wanted but only ${pool.length} questions have a usable majority path`,
    );
  }
  return Array.from({ length: templates }, (_, t) =>
    new Rng(deriveSeed(options.seed, 'exemplar-template', t)).shuffle(pool).slice(0, shots),
  );
}
