import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { FailureType, type RecordRoundInput, type RecordRoundResult } from '../contract';
import { indexableCampaignId, indexRound } from '../report/campaign-index';
import { roundRecord } from '../report/round-record';
import type { ActivityDeps } from './deps';
import { failingClearly } from './failures';

/**
 * Stores a finished round's lineage (its RoundResult) as an immutable artifact, so the campaign's
 * report, audit and status outlive Temporal's retention of the round workflow: the store record is
 * the one place a round's lineage is read from once the round is done. The round passes its own
 * result (workflows/round.ts), so nothing here reads a workflow through Temporal's client. The
 * record is content-addressed: a retry stores the same bytes under the same ref. The round is also
 * entered in the campaign index (by its record's ref), from this activity rather than the workflow,
 * so the campaign's history does not change.
 */
export function makeRecordRound({ store }: ActivityDeps) {
  return async function recordRound(input: RecordRoundInput): Promise<RecordRoundResult> {
    return failingClearly(async () => {
      const { result } = input;
      if (result === undefined) {
        // Only a recordRound scheduled by a campaign run before rounds passed their result lacks it.
        throw ApplicationFailure.create({
          type: FailureType.RoundResultMissing,
          nonRetryable: true,
          message: `${input.workflowId}: result: the round's result is not in recordRound's input (scheduled by an older campaign); run the campaign again`,
        });
      }
      if (result.round !== input.round) {
        throw ApplicationFailure.create({
          type: FailureType.InvalidArgument,
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
