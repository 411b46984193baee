import type { ActivityOptions, RetryPolicy } from '@temporalio/workflow';
import { NON_RETRYABLE_TYPES } from '../contract/failures';

const RETRY: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 20,
  nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
};

/**
 * Light work (files, voting, formatting, scoring, the report, importing a model folder): seconds on a
 * GSM8K-sized round, longer for a large model folder. Light activities heartbeat on a timer
 * (activities/keep-alive.ts), so a worker killed in the middle is noticed after the heartbeat timeout
 * and the activity starts again on another worker within seconds; the start-to-close timeout only
 * bounds an attempt that is alive but stuck, and is sized for the largest input. Retried on I/O
 * hiccups.
 */
export const LIGHT: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '20 seconds',
  retry: RETRY,
};

/**
 * Model work (sampling, evaluation, fine-tuning): long, heartbeating. A worker that dies is noticed
 * after the heartbeat timeout and the activity retries elsewhere from its heartbeated cursor. The
 * workflow waits for a cancelled activity to flush its partial state before it moves on.
 */
export function accelerator(taskQueue: string, heartbeatTimeoutSeconds: number): ActivityOptions {
  return {
    taskQueue,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: heartbeatTimeoutSeconds * 1000,
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
    retry: RETRY,
  };
}
