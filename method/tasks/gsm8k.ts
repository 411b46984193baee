import { z } from 'zod';
import { normalizeNumber } from '../answers/number';
import { readJsonl } from '../load/jsonl';
import type { LoadOptions, LoadResult, Question, Task } from '../types';
import { lineId, numericAnswers, paperPrompts } from './shared';

/** GSM8K: `{"question", "answer"}`; the answer is a rationale whose last line is `#### N`. */

const CANONICAL_NUMBER = /^-?\d+(?:\.\d+)?$/;

/** Removes GSM8K's calculator notes: "48/2 = <<48/2=24>>24" → "48/2 = 24". */
export function stripCalculatorNotes(text: string): string {
  return text.replace(/<<[^<>]*>>/g, '');
}

/** Splits a GSM8K answer into its rationale (calculator notes removed) and the raw final answer. */
export function parseGsm8kAnswer(answer: string): { rationale: string; final: string } | null {
  const at = answer.lastIndexOf('####');
  if (at < 0) return null;
  return { rationale: stripCalculatorNotes(answer.slice(0, at)).trim(), final: answer.slice(at + 4).trim() };
}

const Gsm8kLine = z.object({
  question: z.string().trim().min(1),
  answer: z.string().superRefine((answer, ctx) => {
    const parsed = parseGsm8kAnswer(answer);
    if (!parsed) ctx.addIssue({ code: 'custom', message: 'no final "#### N" line' });
    else if (!CANONICAL_NUMBER.test(normalizeNumber(parsed.final)))
      ctx.addIssue({ code: 'custom', message: `final answer "${parsed.final}" is not a number` });
  }),
});

export const gsm8k: Task = {
  name: 'gsm8k',
  async loadQuestions(file: string, options: LoadOptions = {}): Promise<LoadResult> {
    const { records, bad } = await readJsonl(file, Gsm8kLine, {
      ...options,
      accept: (row, line): Question => {
        const { rationale, final } = parseGsm8kAnswer(row.answer) as { rationale: string; final: string };
        return {
          id: lineId(file, line),
          text: row.question,
          gold: [final],
          rationale,
          source: { file, line },
        };
      },
    });
    return { questions: records, bad };
  },
  ...numericAnswers,
  prompts: paperPrompts,
};
