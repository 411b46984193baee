import { z } from 'zod';
import { BadInputError } from '../../base/errors';
import type { BadLine, BadLinePolicy } from '../types';

/**
 * The loaders' common core: every raw row of a file (JSONL line or CSV record) is validated with a
 * zod schema, then handed to the task's `accept`, and every problem becomes `file:line: field: problem`
 * under the caller's policy. Readers only produce rows; this file owns the policy.
 */

/** A row as a reader produced it: a parsed value, or a problem the reader already found (bad JSON). */
export type RawRow = { line: number; value: unknown } | { line: number; field: string; problem: string };

/** A problem only the loader can see, beyond the line's own shape (a duplicate id across lines). */
export class Rejection {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {}
}

export interface RecordReaderOptions<T, R> {
  policy?: BadLinePolicy;
  /** Stop after this many accepted records (the rest of the file is not read). */
  limit?: number;
  accept: (value: T, line: number) => R | Rejection;
}

export interface RecordReadResult<R> {
  records: R[];
  bad: BadLine[];
}

/** Field names for problems that belong to no field of the record. */
export const WHOLE_FILE = '(file)';
export const WHOLE_RECORD = '(record)';

/** Zod's own wording, except that an absent field is called missing rather than "received undefined". */
const errorMap: z.core.$ZodErrorMap = (issue) =>
  issue.code === 'invalid_type' && issue.input === undefined
    ? `missing (expected ${issue.expected})`
    : undefined;

/** The first issue of a failed parse as (field, problem); the field is the issue path joined with '.'. */
export function firstIssue(error: z.ZodError): { field: string; problem: string } {
  const issue = error.issues[0];
  const field = issue.path.length === 0 ? WHOLE_RECORD : issue.path.map(String).join('.');
  return { field, problem: issue.message };
}

export async function collectRecords<S extends z.ZodType, R>(
  file: string,
  rows: AsyncIterable<RawRow>,
  schema: S,
  options: RecordReaderOptions<z.output<S>, R>,
): Promise<RecordReadResult<R>> {
  const policy = options.policy ?? 'fail-fast';
  const limit = options.limit ?? Infinity;
  const records: R[] = [];
  const bad: BadLine[] = [];
  const report = (line: number, field: string, problem: string) => {
    if (policy === 'fail-fast') throw new BadInputError(file, line, field, problem);
    bad.push({ file, line, field, problem });
  };
  let seen = 0;
  if (limit <= 0) return { records, bad };
  for await (const row of rows) {
    seen++;
    if ('problem' in row) {
      report(row.line, row.field, row.problem);
      continue;
    }
    const parsed = schema.safeParse(row.value, { error: errorMap });
    if (!parsed.success) {
      const { field, problem } = firstIssue(parsed.error);
      report(row.line, field, problem);
      continue;
    }
    const accepted = options.accept(parsed.data, row.line);
    if (accepted instanceof Rejection) {
      report(row.line, accepted.field, accepted.problem);
      continue;
    }
    records.push(accepted);
    if (records.length >= limit) break;
  }
  if (seen === 0) throw new BadInputError(file, null, WHOLE_FILE, 'empty file: no records to read');
  return { records, bad };
}

/** Keeps ids unique within one file: a second use of an id is a bad line naming the first. */
export class IdRegistry {
  private readonly firstLine = new Map<string, number>();
  constructor(private readonly field = 'id') {}
  claim(id: string, line: number): Rejection | null {
    const first = this.firstLine.get(id);
    if (first !== undefined)
      return new Rejection(this.field, `duplicate id "${id}" (first on line ${first})`);
    this.firstLine.set(id, line);
    return null;
  }
}
