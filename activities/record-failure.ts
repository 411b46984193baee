import type { RecordFailureInput } from '../contract';
import { indexableCampaignId, indexFailure } from '../report/campaign-index';
import type { ActivityDeps } from './deps';
import { failingClearly } from './failures';

/**
 * Enters a failed campaign run's reason in the campaign index, so `lmsi status` shows why it failed
 * from the artifact store alone, once Temporal is unreachable or has deleted the workflow.
 */
export function makeRecordFailure({ store }: ActivityDeps) {
  return async function recordFailure(input: RecordFailureInput): Promise<void> {
    return failingClearly(async () => {
      if (!indexableCampaignId(input.campaignId)) return;
      await indexFailure(store, input.campaignId, input.runId, input.failure);
    });
  };
}
