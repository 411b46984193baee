import { Context } from '@temporalio/activity';

/** How often a light activity tells Temporal its worker is alive (well inside LIGHT's heartbeat timeout). */
export const KEEP_ALIVE_MS = 5_000;

/**
 * A light activity that heartbeats on a timer while it runs, so that a worker killed in the middle
 * of it is noticed after the heartbeat timeout (workflows/presets.ts LIGHT: seconds) instead of its
 * start-to-close timeout, which has to cover the largest input (a big model folder, a large
 * dataset). The heartbeats carry no details: light activities resume nothing, they start again.
 */
export function keepingAlive<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  everyMs = KEEP_ALIVE_MS,
): (...args: A) => Promise<R> {
  return async (...args: A): Promise<R> => {
    const context = Context.current();
    context.heartbeat();
    const timer = setInterval(() => context.heartbeat(), everyMs);
    try {
      return await fn(...args);
    } finally {
      clearInterval(timer);
    }
  };
}
