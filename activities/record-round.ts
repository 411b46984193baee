import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { indexableCampaignId, indexRound } from '../report/campaign-index';
import { roundRecord } from '../report/round-record';
import type { RoundResult } from '../workflows/types';
import type { ActivityDeps } from './deps';
import { failingClearly } from './failures';

export interface RecordRoundInput {
  campaignId: string;
  round: number;
  /** The round's child workflow, just completed (`<campaignId>/round-<n>`). */
  workflowId: string;
}

export interface RecordRoundResult {
  /** The round's record (report/round-record.ts) in the artifact store. */
  ref: string;
}

/**
 * Stores a finished round's lineage (its RoundResult) as an immutable artifact, so the campaign's
 * report, audit and status outlive Temporal's retention of the round workflow. The result is read
 * from the just-completed round rather than passed in, so the campaign's history records a workflow
 * id and a ref, not a second copy of the lineage. The record is content-addressed: a retry stores the
 * same bytes under the same ref. The round is also entered in the campaign index (by its record's
 * ref), from this activity rather than the workflow, so the campaign's history does not change.
 */
export function makeRecordRound({ store }: ActivityDeps) {
  return async function recordRound(input: RecordRoundInput): Promise<RecordRoundResult> {
    return failingClearly(async () => {
      const result = await finishedRoundResult(input.workflowId);
      if (result.round !== input.round) {
        throw ApplicationFailure.create({
          type: 'InvalidArgument',
          nonRetryable: true,
          message: `${input.workflowId}: round: holds round ${result.round}, not round ${input.round}`,
        });
      }
      const { ref } = await store.putJson(roundRecord(input.campaignId, input.workflowId, result));
      // The campaign index (report/campaign-index.ts) lists this round by its record, so readers find
      // the campaign's rounds once Temporal has deleted the campaign workflow too. Rewritten
      // identically on a retry.
      if (indexableCampaignId(input.campaignId)) {
        await indexRound(store, input.campaignId, input.workflowId, ref, result);
      } else {
        Context.current().log.warn(
          `campaign id ${JSON.stringify(input.campaignId)} cannot name an index entry`,
        );
      }
      return { ref };
    });
  };
}

/**
 * A finished round's result from its workflow, through the worker's client. A round workflow that
 * Temporal no longer has (deleted after the namespace's retention) will not come back: that is not
 * retried.
 */
export async function finishedRoundResult(workflowId: string): Promise<RoundResult> {
  try {
    return await Context.current()
      .client.workflow.getHandle<(i: unknown) => Promise<RoundResult>>(workflowId)
      .result();
  } catch (e) {
    if (!(e instanceof WorkflowNotFoundError)) throw e;
    throw ApplicationFailure.create({
      type: 'RoundWorkflowGone',
      nonRetryable: true,
      message: `round workflow ${workflowId} no longer exists (Temporal retention) and has no round record`,
    });
  }
}
