import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CampaignStatus, RoundProgress } from '../contract';

/** Pause takes effect between activities: the running one finishes, the next waits for resume. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');

/** A round tells its campaign where it is (on each step and each finished shard). */
export const roundProgressSignal = defineSignal<[RoundProgress]>('roundProgress');

/** state, round, step, progress and per-round metrics of a campaign. */
export const statusQuery = defineQuery<CampaignStatus>('status');

/** Where a round is (for `lmsi status` on a round workflow). */
export const roundProgressQuery = defineQuery<RoundProgress>('roundProgress');
