import { z } from 'zod';
import { extractChoiceAnswer, normalizeChoice } from '../answers/choice';
import { readJsonl } from '../load/jsonl';
import { IdRegistry, Rejection } from '../load/records';
import type { Choice, LoadOptions, LoadResult, Question, Task, TaskName } from '../types';
import { matchesAnyGold, paperPrompts } from './shared';

/**
 * The ARC / OpenBookQA format: `{"id", "question": {"stem", "choices": [{"text", "label"}]}, "answerKey"}`,
 * 3 to 5 choices labelled A–E or 1–5. Gold is the answerKey label.
 */

const McLine = z
  .object({
    id: z.string().trim().min(1),
    question: z.object({
      stem: z.string().trim().min(1),
      choices: z
        .array(z.object({ text: z.string().trim().min(1), label: z.string().trim().min(1) }))
        .min(3)
        .max(5)
        .refine((cs) => new Set(cs.map((c) => c.label.toLowerCase())).size === cs.length, 'duplicate labels'),
    }),
    answerKey: z.string().trim().min(1),
  })
  .superRefine((row, ctx) => {
    const labels = row.question.choices.map((c) => c.label);
    if (!labels.includes(row.answerKey))
      ctx.addIssue({
        code: 'custom',
        path: ['answerKey'],
        message: `"${row.answerKey}" is not one of the labels ${labels.join(', ')}`,
      });
  });

/** The question as the paper's CoT prompts show it: the stem, then "Answer Choices: (A) x (B) y …". */
export function renderMultipleChoice(stem: string, choices: readonly Choice[]): string {
  return `${stem} Answer Choices: ${choices.map((c) => `(${c.label}) ${c.text}`).join(' ')}`;
}

export function multipleChoiceTask(name: TaskName): Task {
  const normalize = (answer: string, question?: Question) => normalizeChoice(answer, question?.choices);
  return {
    name,
    async loadQuestions(file: string, options: LoadOptions = {}): Promise<LoadResult> {
      const ids = new IdRegistry();
      const { records, bad } = await readJsonl(file, McLine, {
        ...options,
        accept: (row, line): Question | Rejection => {
          const duplicate = ids.claim(row.id, line);
          if (duplicate) return duplicate;
          const choices = row.question.choices.map((c) => ({ label: c.label, text: c.text }));
          return {
            id: row.id,
            text: renderMultipleChoice(row.question.stem, choices),
            gold: [row.answerKey],
            choices,
            source: { file, line },
          };
        },
      });
      return { questions: records, bad };
    },
    extractAnswer: (text, question) => extractChoiceAnswer(text, question?.choices),
    normalize,
    isCorrect: matchesAnyGold(normalize),
    prompts: paperPrompts,
  };
}
