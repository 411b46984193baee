import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes lmsi workflows set, so campaigns can be listed and filtered in the Web UI and with
 * `temporal workflow list --query 'LmsiCampaignId = "..."'`. `infra/temporal/search-attributes.json`
 * registers the same names on the dev server (a test keeps the two equal).
 */
export const LmsiCampaignId = defineSearchAttributeKey('LmsiCampaignId', SearchAttributeType.KEYWORD);
export const LmsiRound = defineSearchAttributeKey('LmsiRound', SearchAttributeType.INT);
export const LmsiStep = defineSearchAttributeKey('LmsiStep', SearchAttributeType.KEYWORD);
export const LmsiBestGreedyAccuracy = defineSearchAttributeKey(
  'LmsiBestGreedyAccuracy',
  SearchAttributeType.DOUBLE,
);
export const LmsiModel = defineSearchAttributeKey('LmsiModel', SearchAttributeType.KEYWORD);

export const lmsiSearchAttributeKeys = [
  LmsiCampaignId,
  LmsiRound,
  LmsiStep,
  LmsiBestGreedyAccuracy,
  LmsiModel,
];
