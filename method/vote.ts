import type { Question, SampledPath, Task } from './types';

/**
 * Self-consistency (Wang et al. 2022), the paper's step 2: the majority answer over a question's m
 * sampled paths, and its vote share as the question's confidence.
 */

/** What a vote needs from a path: its normalised answer (null: the path abstained) and its score. */
export interface VotingPath {
  pathIndex: number;
  /** Normalised with the task's `normalize`; null when no answer could be extracted. */
  answer: string | null;
  sumLogprob: number;
}

/** A sampled path with its answer extracted (as the path stated it) and normalised. */
export interface AnsweredPath extends SampledPath {
  /** The answer as the path stated it (`task.extractAnswer`), null when it abstained. */
  stated: string | null;
  /** `task.normalize(stated)`, the form that is voted on; null when it abstained. */
  answer: string | null;
}

/**
 * How each path counts. `count`: one vote each (the paper). `logprob`: each path weighs its
 * unnormalised probability exp(sumLogprob), the self-consistency paper's "unnormalized weighted sum"
 * (the length-normalised variant needs token counts, which a SampledPath does not carry).
 */
export type VoteWeighting = 'count' | 'logprob';

export interface VoteOptions {
  weighting?: VoteWeighting; // default 'count'
}

/** One distinct answer and the paths behind it. */
export interface TallyEntry {
  answer: string;
  votes: number;
  /** Sum of the paths' weights: `votes` under `count`; under `logprob` the sum of exp(sumLogprob -
   * the largest sumLogprob among all m paths), a common factor that keeps the largest weight at 1. */
  weight: number;
  /** Sum of log-probabilities over this answer's paths (the first tie-break). */
  sumLogprob: number;
  /** Lowest path index among this answer's paths (the last tie-break: first seen). */
  firstPathIndex: number;
}

export interface VoteResult {
  /** The majority answer (normalised), or null when every path abstained. */
  answer: string | null;
  /** Paths whose answer is `answer`. */
  votes: number;
  /** All paths, abstentions included. */
  m: number;
  /** votes / m (0 when m = 0). Under `logprob` weighting still the plain vote share, so that a
   * confidence means the same thing whichever weighting chose the answer. */
  confidence: number;
  abstentions: number;
  /** Every distinct answer, best first (the winner is `tally[0]`). */
  tally: TallyEntry[];
}

/**
 * The majority answer. Ranking: most votes (or most weight under `logprob`); ties go to the higher
 * sum of log-probabilities over the tied answer's paths, then to the answer seen first (the lowest
 * path index). Paths are processed in path-index order, so the result (floating-point sums
 * included) does not depend on the order of the input.
 */
export function majorityVote(paths: readonly VotingPath[], options: VoteOptions = {}): VoteResult {
  const weighting = options.weighting ?? 'count';
  const ordered = sortByPathIndex(paths);
  const maxLogprob = ordered.reduce((mx, p) => Math.max(mx, p.sumLogprob), -Infinity);
  const weightOf = (p: VotingPath): number => {
    if (weighting === 'count') return 1;
    return maxLogprob === -Infinity ? 0 : Math.exp(p.sumLogprob - maxLogprob);
  };

  const byAnswer = new Map<string, TallyEntry>();
  let abstentions = 0;
  for (const p of ordered) {
    if (p.answer === null) {
      abstentions++;
      continue;
    }
    const entry = byAnswer.get(p.answer);
    if (entry === undefined) {
      byAnswer.set(p.answer, {
        answer: p.answer,
        votes: 1,
        weight: weightOf(p),
        sumLogprob: p.sumLogprob,
        firstPathIndex: p.pathIndex,
      });
    } else {
      entry.votes++;
      entry.weight += weightOf(p);
      entry.sumLogprob += p.sumLogprob;
    }
  }

  const tally = [...byAnswer.values()].sort(
    (a, b) =>
      (weighting === 'count' ? b.votes - a.votes : b.weight - a.weight) ||
      b.sumLogprob - a.sumLogprob ||
      a.firstPathIndex - b.firstPathIndex,
  );
  const winner = tally.length > 0 ? tally[0] : null;
  const m = ordered.length;
  const votes = winner?.votes ?? 0;
  return {
    answer: winner?.answer ?? null,
    votes,
    m,
    confidence: m === 0 ? 0 : votes / m,
    abstentions,
    tally,
  };
}

function sortByPathIndex<P extends VotingPath>(paths: readonly P[]): P[] {
  const ordered = paths.slice().sort((a, b) => a.pathIndex - b.pathIndex);
  for (let i = 0; i < ordered.length; i++) {
    const p = ordered[i];
    if (!Number.isInteger(p.pathIndex))
      throw new Error(`majorityVote: path index ${p.pathIndex} is not an integer`);
    if (Number.isNaN(p.sumLogprob) || p.sumLogprob === Infinity) {
      throw new Error(`majorityVote: path ${p.pathIndex} has sumLogprob ${p.sumLogprob}`);
    }
    // The same path twice would vote twice: that is a caller's bug, not a tie to break.
    if (i > 0 && ordered[i - 1].pathIndex === p.pathIndex) {
      throw new Error(`majorityVote: path index ${p.pathIndex} appears twice`);
    }
  }
  return ordered;
}

/**
 * Extracts and normalises every path's answer with the task. An answer that normalises to the empty
 * string counts as an abstention: "The answer is ." states nothing to agree with.
 */
export function answerPaths(task: Task, question: Question, paths: readonly SampledPath[]): AnsweredPath[] {
  return paths.map((path) => {
    if (path.questionId !== question.id) {
      throw new Error(
        `answerPaths: path ${path.questionId}#${path.pathIndex} is not of question ${question.id}`,
      );
    }
    const stated = task.extractAnswer(path.text, question);
    const answer = stated === null ? null : task.normalize(stated, question);
    return answer === null || answer === ''
      ? { ...path, stated: null, answer: null }
      : { ...path, stated, answer };
  });
}

/** A question's paths answered and voted on, the input of filtering and of the metrics. */
export interface VotedQuestion {
  question: Question;
  paths: AnsweredPath[];
  vote: VoteResult;
}

export function voteOnQuestion(
  task: Task,
  question: Question,
  paths: readonly SampledPath[],
  options: VoteOptions = {},
): VotedQuestion {
  const answered = answerPaths(task, question, paths);
  return { question, paths: answered, vote: majorityVote(answered, options) };
}
