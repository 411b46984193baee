import { z } from 'zod';
import { BadInputError } from '../base/errors';
import { InvalidRefError, type ArtifactStore } from '../store';
import type { CampaignStop, RecordedFailure, ReportArtifacts, RoundResult, RoundSummary } from '../contract';
import { summarizeRound } from '../contract/round-summary';

/**
 * The campaign index: which rounds a campaign finished (and its report), kept in the artifact store
 * so that `lmsi status`, `report` and `audit` still find them once Temporal's retention has deleted
 * the campaign workflow itself (the round records make the rounds' lineage outlive the round
 * workflows, but the list of their refs lived only in the campaign's state and result).
 *
 * Written by activities only (recordRound, writeReport), never by workflow code, so no history or
 * patch changes. It is one named document per entry rather than one document per campaign:
 *
 *   indexes/campaigns/<campaignId>/round-<n>   one per finished round: its summary and record ref
 *   indexes/campaigns/<campaignId>/report      the report artifacts, once written
 *
 * so no write reads and rewrites another's entry: a retried activity rewrites identical bytes (the
 * entries are built from the round's result, dated by it, never by the clock), and an attempt that
 * lingers after its retry succeeded cannot drop a later round's entry, whatever the order, with no
 * lock between workers sharing the directory.
 */
export interface CampaignIndex {
  campaignId: string;
  /** The finished rounds in order, each with its record's ref (`resultRef`). */
  rounds: RoundSummary[];
  /** The model of the last promoted round (else round 0's, the base model), as the campaign tracks it. */
  bestModelRef: string | null;
  /** The best gate accuracy of the promoted rounds, as the campaign tracks it; null when none. */
  bestAccuracy: number | null;
  /** The campaign's configured number of rounds (from its rounds' config), null when unknown. */
  plannedRounds: number | null;
  report: ReportArtifacts | null;
  /** The campaign stopped before its last round (its report says why); absent otherwise. */
  stopped?: CampaignStop;
  /** Why the campaign's latest run failed, when it failed after its last recorded round. */
  failure?: RecordedFailure;
  /** When the newest entry's data was made (a round's end; the report is dated by its last round). */
  updatedAt: string | null;
}

interface RoundEntry {
  kind: 'lmsi.campaign-index.round';
  version: 1;
  campaignId: string;
  summary: RoundSummary & { resultRef: string };
  gate: { promoted: boolean; accuracy: number };
  plannedRounds: number | null;
  startedAt: string;
  finishedAt: string;
}

interface FailureEntry {
  kind: 'lmsi.campaign-index.failure';
  version: 1;
  campaignId: string;
  runId: string;
  failure: RecordedFailure;
}

const StoredFailureEntry = z.object({
  kind: z.literal('lmsi.campaign-index.failure'),
  version: z.literal(1),
  campaignId: z.string(),
  runId: z.string(),
  failure: z.object({
    message: z.string(),
    type: z.string().nullable(),
    round: z.number().int().nonnegative().nullable(),
    step: z.string().nullable(),
    activity: z.string().nullable(),
    workflowId: z.string(),
    failedAt: z.string(),
  }),
});

/** Index entries that record a failed run: they do not hold the campaign's id (a fixed input may rerun it). */
export function isFailureEntry(name: string): boolean {
  return /\/failure-[^/]+$/.test(name);
}

interface ReportEntry {
  kind: 'lmsi.campaign-index.report';
  version: 1;
  campaignId: string;
  report: ReportArtifacts;
  generatedAt: string | null;
  stopped?: CampaignStop;
}

const StoredRoundEntry = z.object({
  kind: z.literal('lmsi.campaign-index.round'),
  version: z.literal(1),
  campaignId: z.string(),
  summary: z.looseObject({
    round: z.number().int().nonnegative(),
    workflowId: z.string(),
    modelRef: z.string(),
    scAccuracy: z.number(),
    promoted: z.boolean(),
    resultRef: z.string(),
  }),
  gate: z.object({ promoted: z.boolean(), accuracy: z.number() }),
  plannedRounds: z.number().int().nonnegative().nullable(),
  startedAt: z.string(),
  finishedAt: z.string(),
});

const StoredReportEntry = z.object({
  kind: z.literal('lmsi.campaign-index.report'),
  version: z.literal(1),
  campaignId: z.string(),
  report: z.looseObject({
    treeRef: z.string(),
    jsonRef: z.string(),
    htmlRef: z.string(),
    rounds: z.number().int().nonnegative(),
  }),
  generatedAt: z.string().nullable(),
  stopped: z.object({ round: z.number().int().nonnegative(), reason: z.string() }).optional(),
});

/**
 * Whether a campaign id can name an index folder: one name segment of the store (store/local.ts),
 * so no id can reach outside indexes/campaigns/. Config names always can; a free-form `lmsi run --id`
 * that cannot is simply not indexed (its status and report then need its campaign workflow).
 */
export function indexableCampaignId(campaignId: string): boolean {
  return campaignId.length <= 150 && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(campaignId);
}

/** The index's folder of names; throws InvalidRefError for an id that cannot name one. */
export function campaignIndexFolder(campaignId: string): string {
  if (!indexableCampaignId(campaignId)) {
    throw new InvalidRefError(campaignId, 'a campaign id in the index is one segment of [A-Za-z0-9._-]');
  }
  return `indexes/campaigns/${campaignId}`;
}

/** Adds a finished round (its record's ref and one-line summary) to its campaign's index. */
export async function indexRound(
  store: ArtifactStore,
  campaignId: string,
  workflowId: string,
  resultRef: string,
  result: RoundResult,
): Promise<void> {
  const entry: RoundEntry = {
    kind: 'lmsi.campaign-index.round',
    version: 1,
    campaignId,
    summary: { ...summarizeRound(result, workflowId), resultRef },
    gate: { promoted: result.gate.promoted, accuracy: result.gate.accuracy },
    plannedRounds: result.config?.rounds ?? null,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
  };
  await putOnce(store, `${campaignIndexFolder(campaignId)}/round-${result.round}`, entry);
}

/**
 * Writes an index entry unless the name holds another one: the audit trail is append-only. A retried
 * activity rewrites identical bytes (entries are built from results, never the clock), which passes;
 * another run under the same campaign id would rewrite the first run's trail, which is refused.
 */
async function putOnce(store: ArtifactStore, name: string, entry: object): Promise<void> {
  const existing = await store.getNamed(name);
  if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(entry)) {
    const campaignId = (entry as { campaignId: string }).campaignId;
    throw new BadInputError(
      name,
      null,
      'campaignId',
      `the campaign index already holds another run's entry: campaign ${campaignId} exists and its audit trail is never rewritten; start the new run under another id (lmsi run --new-id)`,
    );
  }
  if (existing === undefined) await store.putNamed(name, entry);
}

/** Records the campaign's report artifacts in its index (dated by its last round, as the report is). */
export async function indexReport(
  store: ArtifactStore,
  campaignId: string,
  report: ReportArtifacts,
  generatedAt: string | null,
  stopped?: CampaignStop,
): Promise<void> {
  const entry: ReportEntry = {
    kind: 'lmsi.campaign-index.report',
    version: 1,
    campaignId,
    report,
    generatedAt,
    ...(stopped ? { stopped } : {}),
  };
  await putOnce(store, `${campaignIndexFolder(campaignId)}/report`, entry);
}

/**
 * Records why a campaign run failed, one entry per run (by its run id): a campaign that failed on bad
 * input may be run again under its id once the input is fixed, and each failure stays on record.
 */
export async function indexFailure(
  store: ArtifactStore,
  campaignId: string,
  runId: string,
  failure: RecordedFailure,
): Promise<void> {
  const entry: FailureEntry = { kind: 'lmsi.campaign-index.failure', version: 1, campaignId, runId, failure };
  await putOnce(store, `${campaignIndexFolder(campaignId)}/failure-${runId}`, entry);
}

/**
 * A campaign's index, or null when the store has no entry for it. Entries are checked (shape and
 * campaign id); a malformed one fails with its name. The rounds are the chain 0, 1, 2, ... in which
 * each round started after the one before it finished: a campaign id run again (a closed workflow's
 * id may be reused) overwrites rounds by number, and the older run's later rounds, which started
 * before the new round 0, are left out rather than mixed in. The report counts only if it covers
 * exactly that chain.
 */
export async function readCampaignIndex(
  store: ArtifactStore,
  campaignId: string,
): Promise<CampaignIndex | null> {
  if (!indexableCampaignId(campaignId)) return null;
  const folder = campaignIndexFolder(campaignId);
  const names = await store.listNamed(folder);
  if (names.length === 0) return null;
  const byRound = new Map<number, RoundEntry>();
  let latestFailure: RecordedFailure | undefined;
  for (const name of names) {
    if (isFailureEntry(name)) {
      const entry = parseEntry(
        name,
        StoredFailureEntry,
        await store.getNamed(name),
        campaignId,
      ) as FailureEntry;
      if (!latestFailure || Date.parse(entry.failure.failedAt) > Date.parse(latestFailure.failedAt))
        latestFailure = entry.failure;
      continue;
    }
    if (!/\/round-\d+$/.test(name)) continue;
    const entry = parseEntry(name, StoredRoundEntry, await store.getNamed(name), campaignId) as RoundEntry;
    byRound.set(entry.summary.round, entry);
  }
  const chain: RoundEntry[] = [];
  for (let round = 0; byRound.has(round); round++) {
    const entry = byRound.get(round)!;
    const before = chain[chain.length - 1];
    if (before && Date.parse(entry.startedAt) < Date.parse(before.finishedAt)) break;
    chain.push(entry);
  }
  const rawReport = await store.getNamed(`${folder}/report`);
  const reportEntry =
    rawReport === undefined
      ? null
      : (parseEntry(`${folder}/report`, StoredReportEntry, rawReport, campaignId) as ReportEntry);
  const last = chain[chain.length - 1];
  const report =
    reportEntry &&
    last &&
    reportEntry.report.rounds === chain.length &&
    reportEntry.generatedAt === last.finishedAt
      ? reportEntry.report
      : null;
  // The campaign's own bookkeeping (workflows/campaign.ts): a promoted round's model becomes the best
  // one, and the best accuracy is the highest promoted gate accuracy.
  let bestModelRef = chain[0]?.summary.modelRef ?? null;
  let bestAccuracy: number | null = null;
  for (const e of chain) {
    if (!e.gate.promoted) continue;
    bestModelRef = e.summary.modelRef;
    bestAccuracy = bestAccuracy === null ? e.gate.accuracy : Math.max(bestAccuracy, e.gate.accuracy);
  }
  return {
    campaignId,
    rounds: chain.map((e) => e.summary),
    bestModelRef,
    bestAccuracy,
    plannedRounds: last?.plannedRounds ?? null,
    report,
    ...(report && reportEntry?.stopped ? { stopped: reportEntry.stopped } : {}),
    // A failure counts when it came after every recorded round (a later run that got further wins).
    ...(latestFailure && (!last || Date.parse(latestFailure.failedAt) >= Date.parse(last.finishedAt))
      ? { failure: latestFailure }
      : {}),
    updatedAt: last?.finishedAt ?? null,
  };
}

function parseEntry(name: string, schema: z.ZodType, value: unknown, campaignId: string): unknown {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`campaign index ${name}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const entry = parsed.data as { campaignId: string };
  if (entry.campaignId !== campaignId) {
    throw new Error(`campaign index ${name}: belongs to campaign ${entry.campaignId}, not ${campaignId}`);
  }
  return entry;
}
