import { createInterface } from 'node:readline';
import type { z } from 'zod';
import { isBadInputError } from '../../base/errors';
import { openDataFile, readFailure } from './open';
import { collectRecords, type RawRow, type RecordReaderOptions, type RecordReadResult } from './records';

export const JSON_FIELD = '(json)';

/** Lines of a JSONL file (plain or .gz), streamed; blank lines are skipped but still counted. */
export async function* jsonlRows(file: string): AsyncGenerator<RawRow> {
  const { stream, close } = await openDataFile(file);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const raw of lines) {
      line++;
      const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        yield {
          line,
          field: JSON_FIELD,
          problem: `not valid JSON: ${withoutQuotedText((e as Error).message)}`,
        };
        continue;
      }
      yield { line, value };
    }
  } catch (e) {
    throw isBadInputError(e) ? e : readFailure(file, e);
  } finally {
    lines.close();
    close();
  }
}

/** Reads a JSONL file, validating each line with `schema` (see collectRecords for the policy). */
export function readJsonl<S extends z.ZodType, R>(
  file: string,
  schema: S,
  options: RecordReaderOptions<z.output<S>, R>,
): Promise<RecordReadResult<R>> {
  return collectRecords(file, jsonlRows(file), schema, options);
}

/**
 * V8 quotes the start of the offending text ("Unexpected token 'o', \"ola has 7…\" is not valid JSON").
 * Error messages reach logs and workflow histories, where raw dataset text must not: keep the position
 * information, drop the quote.
 */
export function withoutQuotedText(message: string): string {
  return message.replace(/, ".*"(\.\.\.)? is not valid JSON$/s, ' (not valid JSON)');
}
