import { ApplicationFailure } from '@temporalio/common';
import { NonFiniteLossError } from '../engine/train/errors';
import { isBadInputError } from '../base/errors';
import { FailureType } from '../contract';
import { ArtifactCorruptError, InvalidRefError } from '../store';

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
        type: FailureType.BadInput,
        nonRetryable: true,
        details: [{ file: e.file, line: e.line, field: e.field, problem: e.problem }],
      });
    }
    if (e instanceof ArtifactCorruptError) {
      throw ApplicationFailure.create({
        message: e.message,
        type: FailureType.ArtifactCorrupt,
        nonRetryable: true,
        details: [{ ref: e.ref }],
      });
    }
    if (e instanceof InvalidRefError) {
      throw ApplicationFailure.create({
        message: e.message,
        type: FailureType.InvalidRef,
        nonRetryable: true,
        details: [{ ref: e.ref }],
      });
    }
    if (e instanceof NonFiniteLossError) {
      // Seeded training diverges at the same step on every retry: stop and say which knob to turn.
      throw ApplicationFailure.create({
        message: e.message,
        type: FailureType.TrainingDiverged,
        nonRetryable: true,
        details: [{ step: e.step, loss: String(e.loss), lastGoodCheckpoint: e.lastGoodCheckpoint }],
      });
    }
    const storage = storageFailure(e);
    if (storage) throw storage;
    if (e instanceof RangeError) {
      // Invalid parameters (a prompt longer than the model's context, a bad sampling option): the
      // same call fails the same way on every retry.
      throw ApplicationFailure.create({
        message: e.message,
        type: FailureType.InvalidArgument,
        nonRetryable: true,
      });
    }
    throw e;
  }
}

/**
 * A full or read-only artifact store: retrying in a loop cannot free space or grant a permission, and
 * every retry would write more partial files. Fail once, naming the path, and let an operator fix it.
 */
const STORAGE_CODES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

function storageFailure(e: unknown): ApplicationFailure | null {
  const err = e as NodeJS.ErrnoException | null;
  const why = typeof err?.code === 'string' ? STORAGE_CODES[err.code] : undefined;
  if (!why) return null;
  const file = err!.path ?? '(unknown path)';
  return ApplicationFailure.create({
    message: `${file}: artifacts.dir: ${why} (${err!.code}, ${err!.syscall ?? 'io'}); free space or fix permissions, then restart the campaign`,
    type: FailureType.ArtifactStoreUnwritable,
    nonRetryable: true,
    details: [{ file, code: err!.code }],
  });
}
