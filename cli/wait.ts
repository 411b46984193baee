import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import { serverUnreachable } from '../client/campaign-diagnosis';
import type { CampaignStatus } from '../contract';

/**
 * Exit codes of the commands that wait on a campaign (`run --wait`, `status --watch`): the
 * campaign's outcome, so a script can trust it. 2 (usage) comes from cli/main.ts.
 */
export const EXIT_COMPLETED = 0;
export const EXIT_FAILED = 1;
/** The Temporal server stayed unreachable past --outage-timeout: the campaign's outcome is unknown. */
export const EXIT_GAVE_UP = 3;

/** Default --outage-timeout: long enough for a server restart or a short maintenance. */
export const DEFAULT_OUTAGE_SECONDS = 900;

export class GaveUpWaiting extends Error {}

const GRPC_DEADLINE_EXCEEDED = 4;

/**
 * Whether `e` comes from Temporal being unreachable or restarting rather than from an answer about
 * the campaign: no connection, a call that ran out of time, a frontend not ready yet.
 */
export function temporalOutage(e: unknown): boolean {
  if (serverUnreachable(e)) return true;
  const inner = e instanceof ServiceError ? e.cause : e;
  return isGrpcServiceError(inner) && Number(inner.code) === GRPC_DEADLINE_EXCEEDED;
}

export function exitCodeOf(s: CampaignStatus): number {
  return s.state === 'completed' ? EXIT_COMPLETED : EXIT_FAILED;
}

export interface OutageOptions {
  /** How long one outage may last before giving up (ms). */
  outageMs: number;
  /** Errors besides outages that are waited out too (e.g. a campaign not found right after a restart). */
  alsoTransient?: (e: unknown) => boolean;
  /** Told once when an outage starts, and once when it ends. */
  log?: (line: string) => void;
  /** Test hook: the clock. */
  now?: () => number;
}

/**
 * Runs `fn`, waiting out Temporal outages: each call that fails because the server is unreachable is
 * tried again with backoff (0.5 s doubling to 10 s) until it succeeds or the outage has lasted
 * `outageMs`, then GaveUpWaiting. Other errors are thrown as they are.
 */
export async function throughOutages<T>(fn: () => Promise<T>, options: OutageOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  let since: number | null = null;
  let delay = 500;
  for (;;) {
    try {
      const value = await fn();
      if (since !== null) log(`lmsi: Temporal is back after ${((now() - since) / 1000).toFixed(0)} s`);
      return value;
    } catch (e) {
      if (!temporalOutage(e) && !options.alsoTransient?.(e)) throw e;
      const message = e instanceof Error ? e.message : String(e);
      if (since === null) {
        since = now();
        log(
          `lmsi: Temporal unreachable (${message}); reconnecting for up to ${(options.outageMs / 1000).toFixed(0)} s`,
        );
      }
      if (now() - since >= options.outageMs) {
        throw new GaveUpWaiting(
          `gave up waiting: Temporal unreachable for ${((now() - since) / 1000).toFixed(0)} s (--outage-timeout); last error: ${message}. The campaign may still be running: lmsi status shows it once the server is back`,
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  }
}
