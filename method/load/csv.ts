import { parse, type CsvError } from 'csv-parse';
import type { z } from 'zod';
import { BadInputError, isBadInputError } from '../../base/errors';
import { openDataFile, readFailure } from './open';
import { collectRecords, type RawRow, type RecordReaderOptions, type RecordReadResult } from './records';

export const CSV_FIELD = '(csv)';

const newlines = (s: string) => (s.match(/\r\n|\r|\n/g) ?? []).length;

/**
 * Records of a CSV file with a header row, as objects keyed by column name. A record is numbered by
 * the line it starts on (quoted fields may span lines). A record with the wrong number of fields is a
 * bad row; a structural error that stops parsing (an unclosed quote) is bad input for the whole file.
 */
export async function* csvRows(file: string): AsyncGenerator<RawRow> {
  const { stream, close } = await openDataFile(file);
  const skipped: RawRow[] = [];
  const parser = parse({
    columns: true,
    bom: true,
    info: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined) => {
      if (!err) return;
      const line = typeof err.lines === 'number' ? err.lines : 0;
      skipped.push({ line, field: CSV_FIELD, problem: err.message.replace(/ on line \d+$/, '') });
    },
  });
  stream.on('error', (e) => parser.destroy(e));
  stream.pipe(parser);
  // Skip notices arrive as parsing goes, possibly ahead of records still queued: keep line order.
  const flushBefore = function* (line: number) {
    while (skipped.length > 0 && skipped[0].line < line) yield skipped.shift() as RawRow;
  };
  try {
    for await (const chunk of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
    }>) {
      const endLine = chunk.info.lines;
      const line = endLine - Object.values(chunk.record).reduce((n, v) => n + newlines(v), 0);
      yield* flushBefore(line);
      yield { line, value: chunk.record };
    }
    yield* flushBefore(Infinity);
  } catch (e) {
    if (isBadInputError(e)) throw e;
    const err = e as CsvError;
    if (typeof err.code === 'string' && err.code.startsWith('CSV_')) {
      throw new BadInputError(file, typeof err.lines === 'number' ? err.lines : null, CSV_FIELD, err.message);
    }
    throw readFailure(file, e);
  } finally {
    parser.destroy();
    close();
  }
}

/** Reads a CSV file, validating each record with `schema` (see collectRecords for the policy). */
export function readCsv<S extends z.ZodType, R>(
  file: string,
  schema: S,
  options: RecordReaderOptions<z.output<S>, R>,
): Promise<RecordReadResult<R>> {
  return collectRecords(file, csvRows(file), schema, options);
}
