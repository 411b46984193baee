import { cotCompletion, directCompletion, zeroShotCotPrompt, zeroShotDirectPrompt } from '../method/formats';
import type { Question, Task } from '../method/types';

/**
 * The labeled seed set as fine-tuning examples: each question with its gold rationale under the
 * zero-shot CoT prompt, and its answer under the zero-shot direct prompt (each format with its own
 * prompt: a direct answer trained under the CoT prompt teaches the model to skip its reasoning).
 */
export function seedExamples(
  task: Task,
  questions: readonly Question[],
  options: { direct?: boolean } = {},
): { prompt: string; completion: string }[] {
  const out: { prompt: string; completion: string }[] = [];
  for (const q of questions) {
    if (!q.gold || q.rationale === undefined) throw new Error(`seed question ${q.id} has no gold rationale`);
    const answer = q.gold[0];
    out.push({ prompt: zeroShotCotPrompt(task, q), completion: cotCompletion(task, q.rationale, answer) });
    if (options.direct ?? true)
      out.push({ prompt: zeroShotDirectPrompt(task, q), completion: directCompletion(task, answer) });
  }
  return out;
}
