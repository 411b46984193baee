/**
 * Bad input: a file, line and field the user must fix. Activities turn it into a non-retryable
 * ApplicationFailure (retrying cannot fix a malformed line), so its message must say exactly where.
 */
export class BadInputError extends Error {
  override readonly name = 'BadInputError';
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${field}: ${problem}`);
  }
}

export function isBadInputError(e: unknown): e is BadInputError {
  return e instanceof Error && e.name === 'BadInputError';
}
