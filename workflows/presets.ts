import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Failure types a retry cannot fix (activities raise them, see activities/failures.ts): bad input
 * naming file/line/field, a corrupt artifact, a ref outside the store.
 */
export const NON_RETRYABLE_TYPES = ['BadInput', 'ArtifactCorrupt', 'InvalidRef'];

/** Light work (files, voting, formatting, reports): minutes at most, retried on I/O hiccups. */
export const LIGHT: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 10,
    nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
  },
};
