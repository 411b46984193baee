import { cotCompletion, directCompletion, zeroShotCotPrompt, zeroShotDirectPrompt } from '../method/formats';
import type { Question, Task } from '../method/types';

/**
 * The labeled seed set as fine-tuning examples: each question with its gold rationale under the
 * zero-shot CoT prompt, and its answer under the zero-shot direct prompt (each format with its own
 * prompt: a direct answer trained under the CoT prompt teaches the model to skip its reasoning).
 * `directFraction` of the questions (default all) also get the direct example: the model must know
 * that format, but its tokens buy no reasoning, and training tokens are the base model's budget.
 */
export function seedExamples(
  task: Task,
  questions: readonly Question[],
  options: { directFraction?: number } = {},
): { prompt: string; completion: string }[] {
  const fraction = options.directFraction ?? 1;
  const out: { prompt: string; completion: string }[] = [];
  questions.forEach((q, i) => {
    if (!q.gold || q.rationale === undefined) throw new Error(`seed question ${q.id} has no gold rationale`);
    const answer = q.gold[0];
    out.push({ prompt: zeroShotCotPrompt(task, q), completion: cotCompletion(task, q.rationale, answer) });
    // Evenly spread: question i gets a direct example when i × fraction crosses an integer.
    if (Math.floor((i + 1) * fraction) > Math.floor(i * fraction))
      out.push({ prompt: zeroShotDirectPrompt(task, q), completion: directCompletion(task, answer) });
  });
  return out;
}
