import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { BadInputError } from '../../base/errors';

/** A fine-tuning example: the loss is on the completion only. Other fields (format, ids) are allowed. */
export const FineTuneExample = z
  .object({
    prompt: z.string(),
    completion: z.string().min(1),
  })
  .loose();

export interface FineTuneExample {
  prompt: string;
  completion: string;
}

function check(value: unknown, file: string, line: number): FineTuneExample {
  const parsed = FineTuneExample.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadInputError(file, line, issue.path.join('.') || '(line)', issue.message);
  }
  return { prompt: parsed.data.prompt, completion: parsed.data.completion };
}

/** Examples from a JSONL file, one `{prompt, completion}` object per non-blank line. */
export function readExamples(file: string): FineTuneExample[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new BadInputError(file, null, '(file)', (e as Error).message);
  }
  const out: FineTuneExample[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new BadInputError(file, i + 1, '(json)', (e as Error).message);
    }
    out.push(check(value, file, i + 1));
  });
  if (out.length === 0) throw new BadInputError(file, null, '(file)', 'no examples');
  return out;
}

/** A file path (JSONL) or examples given directly (validated the same way; "line" = index + 1). */
export function resolveExamples(
  source: string | readonly FineTuneExample[],
  name: string,
): FineTuneExample[] {
  if (typeof source === 'string') return readExamples(source);
  if (source.length === 0) throw new BadInputError(name, null, '(examples)', 'no examples');
  return source.map((e, i) => check(e, name, i + 1));
}
