import { z } from 'zod';
import { extractFinalAnswer } from '../answers/extract';
import { NLI_LABEL_TO_ANSWER, NLI_NEUTRAL, NLI_NO, NLI_YES, normalizeNli } from '../answers/nli';
import { readCsv } from '../load/csv';
import { readJsonl } from '../load/jsonl';
import { IdRegistry, type Rejection } from '../load/records';
import type { LoadOptions, LoadResult, Question, Task } from '../types';
import { matchesAnyGold, paperPrompts } from './shared';

/**
 * ANLI. Reads the analysis CSVs (`uid`, `context` = premise, `statement` = hypothesis, `gold_label`)
 * and the official JSONL (`uid`, `premise`, `hypothesis`, `label`). Gold is stored in the paper's
 * wording ("yes" / "it is not possible to tell" / "no"), the answer a model is asked to give; the
 * labels e / n / c normalise to the same words, so either form compares correctly.
 */

const Label = z.enum(['e', 'n', 'c']);
const AnliCsvRecord = z.object({
  uid: z.string().trim().min(1),
  context: z.string().trim().min(1),
  statement: z.string().trim().min(1),
  gold_label: Label,
});
const AnliJsonLine = z.object({
  uid: z.string().trim().min(1),
  premise: z.string().trim().min(1),
  hypothesis: z.string().trim().min(1),
  label: Label,
});

/** The premise and hypothesis as the paper's ANLI CoT prompts show them. */
export function renderNli(premise: string, hypothesis: string): string {
  return (
    `Premise:\n"${premise}"\nBased on this premise, can we conclude the hypothesis "${hypothesis}" is true?\n` +
    `OPTIONS:\n- ${NLI_YES}\n- ${NLI_NO}\n- ${NLI_NEUTRAL}`
  );
}

export const anli: Task = {
  name: 'anli',
  async loadQuestions(file: string, options: LoadOptions = {}): Promise<LoadResult> {
    const ids = new IdRegistry('uid');
    const toQuestion = (
      uid: string,
      premise: string,
      hypothesis: string,
      label: z.infer<typeof Label>,
      line: number,
    ): Question | Rejection =>
      ids.claim(uid, line) ?? {
        id: uid,
        text: renderNli(premise, hypothesis),
        gold: [NLI_LABEL_TO_ANSWER[label]],
        source: { file, line },
      };
    const { records, bad } = /\.csv(?:\.gz)?$/i.test(file)
      ? await readCsv(file, AnliCsvRecord, {
          ...options,
          accept: (r, line) => toQuestion(r.uid, r.context, r.statement, r.gold_label, line),
        })
      : await readJsonl(file, AnliJsonLine, {
          ...options,
          accept: (r, line) => toQuestion(r.uid, r.premise, r.hypothesis, r.label, line),
        });
    return { questions: records, bad };
  },
  extractAnswer: (text) => extractFinalAnswer(text),
  normalize: (answer) => normalizeNli(answer),
  isCorrect: matchesAnyGold((answer) => normalizeNli(answer)),
  prompts: paperPrompts,
};
