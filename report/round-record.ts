import { z } from 'zod';
import { ArtifactNotFoundError, type ArtifactStore } from '../store';
import type { RoundResult } from '../workflows/types';

/**
 * A round's whole lineage (its RoundResult) as an immutable artifact. Temporal deletes closed
 * workflows after the namespace's retention period, and campaigns run for days: the report, the
 * audit and the status of a campaign read its rounds from these records, which live as long as the
 * artifact store does.
 */
export interface RoundRecord {
  kind: 'lmsi.round-result';
  version: 1;
  campaignId: string;
  /** The round's workflow id (`<campaignId>/round-<n>`), which may no longer exist in Temporal. */
  workflowId: string;
  result: RoundResult;
}

export function roundRecord(campaignId: string, workflowId: string, result: RoundResult): RoundRecord {
  return { kind: 'lmsi.round-result', version: 1, campaignId, workflowId, result };
}

// The envelope and the fields every reader relies on; the rest of the lineage is passed through.
const StoredRoundRecord = z.object({
  kind: z.literal('lmsi.round-result'),
  version: z.literal(1),
  campaignId: z.string(),
  workflowId: z.string(),
  result: z.looseObject({
    round: z.number().int().nonnegative(),
    modelIn: z.string(),
    modelOut: z.string(),
    evaluation: z.looseObject({ summary: z.looseObject({ scAccuracy: z.number() }) }),
    gate: z.looseObject({ promoted: z.boolean(), accuracy: z.number() }),
    startedAt: z.string(),
    finishedAt: z.string(),
  }),
});

/**
 * Reads a round record back (the store verifies its bytes against the ref) and checks that it is the
 * round of the campaign the caller asked for, so a ref from the wrong campaign cannot pass for one.
 */
export async function readRoundRecord(
  store: ArtifactStore,
  ref: string,
  expected: { campaignId: string; round: number },
): Promise<RoundRecord> {
  const parsed = StoredRoundRecord.safeParse(await store.getJson(ref));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`round record ${ref}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const record = parsed.data;
  if (record.campaignId !== expected.campaignId || record.result.round !== expected.round) {
    throw new Error(
      `round record ${ref}: holds round ${record.result.round} of campaign ${record.campaignId}, not round ${expected.round} of ${expected.campaignId}`,
    );
  }
  return record as unknown as RoundRecord;
}

/** Where a finished round's result is: its record in the store, else (older campaigns) its workflow. */
export interface RoundSource {
  round: number;
  workflowId: string;
  resultRef?: string | null;
}

/**
 * A finished round's result: from its record when the campaign stored one, else from its round
 * workflow (campaigns that ran before rounds were recorded; those rounds live as long as Temporal's
 * retention lets them). A record missing from this store (a reader pointed at another artifact
 * root) also falls back to the workflow; when that is gone too, the error names both.
 */
export async function roundResultOf(
  source: RoundSource,
  ctx: {
    campaignId: string;
    store: ArtifactStore;
    fromWorkflow: (workflowId: string) => Promise<RoundResult>;
  },
): Promise<RoundResult> {
  if (!source.resultRef) return ctx.fromWorkflow(source.workflowId);
  const expected = { campaignId: ctx.campaignId, round: source.round };
  try {
    return (await readRoundRecord(ctx.store, source.resultRef, expected)).result;
  } catch (e) {
    if (!(e instanceof ArtifactNotFoundError)) throw e;
    try {
      return await ctx.fromWorkflow(source.workflowId);
    } catch (fallback) {
      throw new Error(
        `round ${source.round}: ${e.message}, and its workflow could not be read: ${fallback instanceof Error ? fallback.message : String(fallback)}`,
      );
    }
  }
}
