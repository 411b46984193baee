import { z } from 'zod';
import type { RoundRecord, RoundResult } from '../contract';
import type { ArtifactStore } from '../store';

/** A round's record (contract/round.ts RoundRecord): its result, without the ref of the record itself. */
export function roundRecord(campaignId: string, workflowId: string, result: RoundResult): RoundRecord {
  const { recordRef: _recordRef, ...lineage } = result;
  return { kind: 'lmsi.round-result', version: 1, campaignId, workflowId, result: lineage };
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

/** Where a finished round's result is: its record in the artifact store. */
export interface RoundSource {
  round: number;
  workflowId: string;
  /** The round's record; absent for rounds run before rounds were recorded. */
  resultRef?: string | null;
}

/** A round whose lineage is in no record (it ran before rounds were recorded). */
export class RoundNotRecordedError extends Error {
  override readonly name = 'RoundNotRecordedError';
  constructor(
    readonly round: number,
    readonly workflowId: string,
  ) {
    super(
      `round ${round} (${workflowId}) ran before rounds were recorded in the artifact store: its lineage has no record to read`,
    );
  }
}

/**
 * A finished round's result, read from its record in the artifact store: the one read path for a
 * round's lineage (the round writes the record itself, workflows/round.ts). The record is checked to
 * be this round of this campaign.
 */
export async function roundResultOf(
  source: RoundSource,
  ctx: { campaignId: string; store: ArtifactStore },
): Promise<RoundResult> {
  if (!source.resultRef) throw new RoundNotRecordedError(source.round, source.workflowId);
  const expected = { campaignId: ctx.campaignId, round: source.round };
  return (await readRoundRecord(ctx.store, source.resultRef, expected)).result;
}
