import {
  getExternalWorkflowHandle,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RoundProgress, RoundStep } from '../contract';
import { roundProgressQuery, roundProgressSignal } from './messages';
import { LmsiStep } from './search-attributes';

/** Tells where a round is: its step and how much of it is done. */
export type ReportProgress = (step: RoundStep, done: number, total: number) => Promise<void>;

/**
 * A round's progress: answered by the roundProgress query, written to the LmsiStep search attribute
 * when the step changes, and signalled to the parent campaign (if any) on every report.
 */
export function roundProgress(round: number): ReportProgress {
  const progress: RoundProgress = { round, step: 'starting', done: 0, total: 0 };
  setHandler(roundProgressQuery, () => progress);
  const parent = workflowInfo().parent;
  return async (step, done, total) => {
    const stepChanged = step !== progress.step;
    Object.assign(progress, { step, done, total });
    if (stepChanged) upsertSearchAttributes([{ key: LmsiStep, value: step }]);
    if (parent)
      await getExternalWorkflowHandle(parent.workflowId).signal(roundProgressSignal, { ...progress });
  };
}
