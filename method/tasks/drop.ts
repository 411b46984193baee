import { z } from 'zod';
import { dropExactMatch, dropGoldAlternatives, normalizeDropAnswer } from '../answers/drop';
import { extractFinalAnswer } from '../answers/extract';
import { readJsonl } from '../load/jsonl';
import type { LoadOptions, LoadResult, Question, Task } from '../types';
import { lineId, paperPrompts } from './shared';

/**
 * DROP (simple-evals format): `{"context": "Passage: …\nQuestion: …\nAnswer:", "completion", "ref_text"}`.
 * The question text is the context without its trailing "Answer:" (the prompt supplies "A:"); gold
 * is every `|`-separated alternative of `ref_text`. Correct means DROP exact match; F1 is `dropF1`.
 */

const DropLine = z.object({
  context: z
    .string()
    .refine(
      (c) => /^\s*Passage:/.test(c) && c.includes('\nQuestion:'),
      'expected "Passage: …\\nQuestion: …"',
    ),
  ref_text: z.string().refine((r) => dropGoldAlternatives(r).length > 0, 'no non-blank answer'),
});

/** The passage and question of a DROP context, without the trailing "Answer:". */
export function dropQuestionText(context: string): string {
  return context.replace(/\s*Answer:\s*$/, '').trim();
}

export const drop: Task = {
  name: 'drop',
  async loadQuestions(file: string, options: LoadOptions = {}): Promise<LoadResult> {
    const { records, bad } = await readJsonl(file, DropLine, {
      ...options,
      accept: (row, line): Question => ({
        id: lineId(file, line),
        text: dropQuestionText(row.context),
        gold: dropGoldAlternatives(row.ref_text),
        source: { file, line },
      }),
    });
    return { questions: records, bad };
  },
  extractAnswer: (text) => extractFinalAnswer(text, { initials: true }),
  normalize: (answer) => normalizeDropAnswer(answer),
  isCorrect: (prediction, gold) => dropExactMatch(prediction, gold),
  prompts: paperPrompts,
};
