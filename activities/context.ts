import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';

/**
 * Heartbeats of long activities. The details are the activity's cursor (questions finished, the last
 * checkpoint): a retry reads them back with `heartbeatCursor()` and continues from there. Heartbeats
 * are also how a cancellation reaches a running activity: `checkCancelled()` after each unit of work
 * turns it into a CancelledFailure once the unit's result is safely persisted.
 */
export function heartbeat(details: unknown): void {
  Context.current().heartbeat(details);
}

export function heartbeatCursor<T>(): T | undefined {
  return Context.current().info.heartbeatDetails as T | undefined;
}

export function checkCancelled(): void {
  const signal = Context.current().cancellationSignal;
  if (signal.aborted) {
    throw signal.reason instanceof CancelledFailure
      ? signal.reason
      : new CancelledFailure('activity cancelled');
  }
}

export function cancellationSignal(): AbortSignal {
  return Context.current().cancellationSignal;
}
