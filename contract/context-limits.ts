import type { RoundResult } from './round';
import type { ShardResult, SkippedQuestion } from './sampling';

/**
 * What a round did about the model's context: questions whose prompt is longer than it were skipped
 * (never a campaign failure), and maxNewTokens was clipped where a prompt left fewer positions. Read
 * from the round's shard results; the campaign's status, the audit and the report all show it.
 */
export interface RoundContextLimits {
  /** Skipped questions by step (the student's evaluation is `student-evaluate`). */
  skipped: { step: ContextStep; questions: SkippedQuestion[] }[];
  /** Every skip and clip, in words. Empty when the context limited nothing. */
  warnings: string[];
}

export type ContextStep = 'sample' | 'evaluate' | 'student-evaluate';

export function roundContextLimits(r: RoundResult): RoundContextLimits {
  const steps: [ContextStep, ShardResult[]][] = [
    ['sample', r.sampling?.shards ?? []],
    ['evaluate', r.evaluation.shards],
    ['student-evaluate', r.student?.evaluation.shards ?? []],
  ];
  const skipped: RoundContextLimits['skipped'] = [];
  const warnings: string[] = [];
  const tooLong = r.generatedQuestions?.tooLong ?? 0;
  if (tooLong > 0)
    warnings.push(
      `questions: ${plural(tooLong, 'question-generation prompt')} longer than the model's context, skipped`,
    );
  for (const [step, shards] of steps) {
    const questions = shards.flatMap((s) => s.skipped ?? []);
    if (questions.length > 0) {
      skipped.push({ step, questions });
      const longest = Math.max(...questions.map((q) => q.promptTokens));
      warnings.push(
        `${step}: ${plural(questions.length, 'question')} skipped: prompt longer than the model's context ` +
          `(${questions[0].maxPositions} positions; longest prompt ${longest} tokens)`,
      );
    }
    const clipped = shards.flatMap((s) => (s.clipped ? [s.clipped] : []));
    if (clipped.length > 0) {
      const count = clipped.reduce((n, c) => n + c.questions, 0);
      const fewest = Math.min(...clipped.map((c) => c.fewestNewTokens));
      const maxNewTokens = r.config?.sampling.maxNewTokens;
      warnings.push(
        `${step}: maxNewTokens${maxNewTokens === undefined ? '' : ` ${maxNewTokens}`} clipped to the ` +
          `model's context for ${plural(count, 'question')} (as few as ${fewest} new tokens)`,
      );
    }
  }
  return { skipped, warnings };
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
