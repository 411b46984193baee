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
  /** Policy-gradient training (loss 'grpo'): the path's advantage, broadcast over its completion tokens. */
  advantage?: number;
}

/** A policy-gradient example: a sampled path and its advantage (GRPO: reward normalised within its question's group). */
export const PolicyExample = FineTuneExample.extend({ advantage: z.number().finite() });
export type PolicyExample = Required<FineTuneExample>;

/** Which fields an example needs: `policy` adds the advantage (loss 'grpo'). */
export type ExampleKind = 'sft' | 'policy';

function check(value: unknown, file: string, line: number, kind: ExampleKind): FineTuneExample {
  const parsed = (kind === 'policy' ? PolicyExample : FineTuneExample).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadInputError(file, line, issue.path.join('.') || '(line)', issue.message);
  }
  const { prompt, completion } = parsed.data;
  return kind === 'policy'
    ? { prompt, completion, advantage: (parsed.data as PolicyExample).advantage }
    : { prompt, completion };
}

/** Examples from a JSONL file, one `{prompt, completion}` object per non-blank line (`advantage` too for `policy`). */
export function readExamples(file: string, kind: ExampleKind = 'sft'): FineTuneExample[] {
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
    out.push(check(value, file, i + 1, kind));
  });
  if (out.length === 0) throw new BadInputError(file, null, '(file)', 'no examples');
  return out;
}

/** A file path (JSONL) or examples given directly (validated the same way; "line" = index + 1). */
export function resolveExamples(
  source: string | readonly FineTuneExample[],
  name: string,
  kind: ExampleKind = 'sft',
): FineTuneExample[] {
  if (typeof source === 'string') return readExamples(source, kind);
  if (source.length === 0) throw new BadInputError(name, null, '(examples)', 'no examples');
  return source.map((e, i) => check(e, name, i + 1, kind));
}
