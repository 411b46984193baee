import { completionFor, isCotFormat, isFewShotFormat, promptFor, splitRationale } from './formats';
import { deriveSeed, Rng } from '../base/rng';
import { FORMAT_NAMES } from './types';
import type { Exemplar, FormatName, Question, Task, TrainingExample } from './types';
import type { AnsweredPath } from './vote';

/**
 * The paper's step 4: every kept path becomes one training example per mixed format (Table 2), so
 * the fine-tuned model answers well with or without exemplars and with or without a rationale.
 */

export interface MixedFormatsOptions {
  task: Task;
  /** The questions the kept paths answer (looked up by id). */
  questions: readonly Question[];
  /**
   * Exemplar sets ("templates") for the few-shot formats: a file of exemplars is one set, the
   * self-generated-exemplar step gives several. Each few-shot example uses one set, chosen at random.
   */
  exemplars?: readonly (readonly Exemplar[])[];
  /** Exemplars per few-shot prompt, drawn from the chosen set (kept in the set's order); default all. */
  shots?: number;
  seed: number | string;
}

/**
 * One example per (kept path, format), in the order of `keptPaths` then of `formats`.
 * - CoT formats train the path's own rationale and answer (as the path stated it), re-ending it with
 *   "The answer is X." so text a model wrote after its answer is not trained on. A path with no
 *   rationale gets no CoT example: under a CoT prompt it would teach the model to skip reasoning.
 * - Direct formats train the question's majority answer as the kept paths stated it: the form stated
 *   most often among them, ties to the lowest path index (so "$18" and "18" do not both appear).
 * - A few-shot example draws its exemplar set (and `shots` of it) from a stream seeded by (seed,
 *   question id, path index, format), and never shows the question itself as an exemplar.
 * Throws when a question's kept paths abstain or disagree: they must come from keepConsistentPaths.
 */
export function mixedFormats(
  keptPaths: readonly AnsweredPath[],
  formats: readonly FormatName[],
  options: MixedFormatsOptions,
): TrainingExample[] {
  const { task, seed } = options;
  const sets = options.exemplars ?? [];
  for (const format of formats) {
    if (!FORMAT_NAMES.includes(format)) throw new Error(`mixedFormats: unknown format '${String(format)}'`);
    if (isFewShotFormat(format) && !sets.some((s) => s.length > 0)) {
      throw new Error(`mixedFormats: format '${format}' needs at least one non-empty exemplar set`);
    }
  }
  if (options.shots !== undefined && !(Number.isInteger(options.shots) && options.shots >= 1)) {
    throw new Error(`mixedFormats: shots must be a positive integer, got ${options.shots}`);
  }
  const questions = new Map(options.questions.map((q) => [q.id, q]));
  const directAnswers = directAnswerPerQuestion(keptPaths);

  const examples: TrainingExample[] = [];
  for (const path of keptPaths) {
    const question = questions.get(path.questionId);
    if (question === undefined) throw new Error(`mixedFormats: no question with id '${path.questionId}'`);
    const { rationale } = splitRationale(path.text);
    const pathId = `${path.questionId}#${path.pathIndex}`;
    for (const format of formats) {
      if (isCotFormat(format) && rationale === '') continue;
      const answer = isCotFormat(format) ? (path.stated as string) : directAnswers.get(path.questionId)!;
      const exemplars = isFewShotFormat(format)
        ? chooseExemplars(
            task,
            question,
            sets,
            options.shots,
            deriveSeed(seed, path.questionId, path.pathIndex, format),
          )
        : [];
      examples.push({
        prompt: promptFor(format, task, question, exemplars),
        completion: completionFor(format, task, rationale, answer),
        format,
        questionId: path.questionId,
        pathId,
      });
    }
  }
  return examples;
}

/** Per question, the stated form of the majority answer that direct formats train. */
function directAnswerPerQuestion(keptPaths: readonly AnsweredPath[]): Map<string, string> {
  const byQuestion = new Map<string, AnsweredPath[]>();
  for (const p of keptPaths) {
    const group = byQuestion.get(p.questionId);
    if (group === undefined) byQuestion.set(p.questionId, [p]);
    else group.push(p);
  }
  const chosen = new Map<string, string>();
  for (const [questionId, group] of byQuestion) {
    const forms = new Map<string, { count: number; firstPathIndex: number }>();
    for (const p of group) {
      if (p.answer === null || p.stated === null) {
        throw new Error(`mixedFormats: kept path ${questionId}#${p.pathIndex} has no answer`);
      }
      if (p.answer !== group[0].answer) {
        throw new Error(
          `mixedFormats: kept paths of question ${questionId} disagree ('${group[0].answer}' vs '${p.answer}')`,
        );
      }
      const form = forms.get(p.stated);
      if (form === undefined) forms.set(p.stated, { count: 1, firstPathIndex: p.pathIndex });
      else {
        form.count++;
        form.firstPathIndex = Math.min(form.firstPathIndex, p.pathIndex);
      }
    }
    const [best] = [...forms].sort(
      (a, b) => b[1].count - a[1].count || a[1].firstPathIndex - b[1].firstPathIndex,
    );
    chosen.set(questionId, best[0]);
  }
  return chosen;
}

function chooseExemplars(
  task: Task,
  question: Question,
  sets: readonly (readonly Exemplar[])[],
  shots: number | undefined,
  seed: number,
): Exemplar[] {
  const rng = new Rng(seed);
  const nonEmpty = sets.filter((s) => s.length > 0);
  const own = task.prompts.formatQuestion(question);
  const set = rng.pick(nonEmpty).filter((e) => e.question !== own);
  if (set.length === 0) {
    throw new Error(
      `mixedFormats: the exemplar set drawn for question ${question.id} holds only that question`,
    );
  }
  if (shots === undefined || shots >= set.length) return set;
  const picked = rng
    .shuffle(set.map((_, i) => i))
    .slice(0, shots)
    .sort((a, b) => a - b);
  return picked.map((i) => set[i]);
}
