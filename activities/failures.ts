import { ApplicationFailure } from '@temporalio/common';
import { isBadInputError } from '../method/errors';
import { ArtifactCorruptError, InvalidRefError } from '../store';

export { NON_RETRYABLE_TYPES } from '../workflows/presets';

/**
 * Runs an activity body, turning errors that a retry cannot fix (bad input, a corrupt artifact, a ref
 * outside the store) into non-retryable ApplicationFailures that name file, line and field. Anything
 * else is rethrown as is and retried with backoff by the activity's retry policy.
 */
export async function failingClearly<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    if (isBadInputError(e)) {
      throw ApplicationFailure.create({
        message: e.message,
        type: 'BadInput',
        nonRetryable: true,
        details: [{ file: e.file, line: e.line, field: e.field, problem: e.problem }],
      });
    }
    if (e instanceof ArtifactCorruptError) {
      throw ApplicationFailure.create({
        message: e.message,
        type: 'ArtifactCorrupt',
        nonRetryable: true,
        details: [{ ref: e.ref }],
      });
    }
    if (e instanceof InvalidRefError) {
      throw ApplicationFailure.create({
        message: e.message,
        type: 'InvalidRef',
        nonRetryable: true,
        details: [{ ref: e.ref }],
      });
    }
    if (e instanceof RangeError) {
      // Invalid parameters (a prompt longer than the model's context, a bad sampling option): the
      // same call fails the same way on every retry.
      throw ApplicationFailure.create({ message: e.message, type: 'InvalidArgument', nonRetryable: true });
    }
    throw e;
  }
}
