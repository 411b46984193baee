import * as path from 'node:path';
import {
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { CampaignConfig } from '../config/campaign';
import { campaignFailure, campaignTroubles, serverUnreachable, stepAttribute } from './campaign-diagnosis';
import {
  campaignIndexFolder,
  indexableCampaignId,
  isFailureEntry,
  readCampaignIndex,
  type CampaignIndex,
} from '../report/campaign-index';
import { roundResultOf } from '../report/round-record';
import type { ArtifactStore } from '../store';
import { selfImprovementCampaign } from '../workflows/campaign';
import { pauseSignal, resumeSignal, statusQuery } from '../workflows/messages';
import { LmsiBestGreedyAccuracy, LmsiCampaignId, LmsiRound, LmsiStep } from '../workflows/search-attributes';
import {
  FailureType,
  type CampaignFailure,
  type CampaignInput,
  type CampaignResult,
  type CampaignState,
  type CampaignStateName,
  type CampaignStatus,
  type RoundResult,
  type RoundSummary,
} from '../contract';

/**
 * Paths in a config are relative to the config file; workers may run elsewhere, so a campaign
 * carries them absolute.
 */
export function resolveConfigPaths(config: CampaignConfig, configFile: string): CampaignConfig {
  const base = path.dirname(path.resolve(configFile));
  const abs = (p: string) => path.resolve(base, p);
  const opt = (p: string | undefined) => (p === undefined ? undefined : abs(p));
  return {
    ...config,
    model: { ...config.model, dir: abs(config.model.dir) },
    student: config.student ? { dir: abs(config.student.dir) } : undefined,
    data: {
      ...config.data,
      unlabeledQuestions: abs(config.data.unlabeledQuestions),
      evaluation: abs(config.data.evaluation),
      exemplars: opt(config.data.exemplars),
      replayExamples: opt(config.data.replayExamples),
    },
    artifacts: { dir: abs(config.artifacts.dir) },
  };
}

/**
 * Why `campaignId` cannot name a new campaign, or null when it is free. A campaign's audit trail is
 * append-only: the id of a running or completed campaign, or of any campaign whose index in the
 * artifact store holds entries, is never reused. A campaign that failed or was cancelled before it
 * recorded anything may be run again under its id (after fixing its input, say).
 */
export async function campaignIdTaken(
  client: Client,
  campaignId: string,
  store?: ArtifactStore,
): Promise<string | null> {
  try {
    const d = await client.workflow.getHandle(campaignId).describe();
    if (d.status.name === 'RUNNING') return `campaign ${campaignId} is running`;
    if (d.status.name === 'COMPLETED')
      return `campaign ${campaignId} completed (${d.closeTime?.toISOString() ?? 'closed'})`;
  } catch (e) {
    if (!(e instanceof WorkflowNotFoundError)) throw e;
  }
  if (store && indexableCampaignId(campaignId)) {
    // A run that failed before it recorded anything may run again: only its failure is on record.
    const entries = (await store.listNamed(campaignIndexFolder(campaignId))).filter(
      (n) => !isFailureEntry(n),
    );
    if (entries.length > 0)
      return `campaign ${campaignId} has an audit trail in the artifact store (${entries.length} index entries)`;
  }
  return null;
}

/** The first of `<base>-2`, `<base>-3`, ... that no campaign has taken. */
export async function nextFreeCampaignId(
  client: Client,
  base: string,
  store?: ArtifactStore,
): Promise<string> {
  for (let n = 2; ; n++) {
    const id = `${base}-${n}`;
    if ((await campaignIdTaken(client, id, store)) === null) return id;
  }
}

/**
 * Starts a campaign under `campaignId` (default: the config's name), refusing an id that is taken
 * (campaignIdTaken). `newId`: when the id is taken, take the next free `<id>-<n>` instead.
 */
export async function startCampaign(
  client: Client,
  config: CampaignConfig,
  options: { campaignId?: string; store?: ArtifactStore; newId?: boolean } = {},
): Promise<WorkflowHandle<typeof selfImprovementCampaign>> {
  let campaignId = options.campaignId ?? config.name;
  const taken = await campaignIdTaken(client, campaignId, options.store);
  if (taken !== null) {
    const free = await nextFreeCampaignId(client, campaignId, options.store);
    if (!options.newId) {
      throw new Error(
        `${taken}: its audit trail is never rewritten, so its id is not reused; start another with --new-id (it would be ${free}) or --id <another id>`,
      );
    }
    campaignId = free;
  }
  return client.workflow.start(selfImprovementCampaign, {
    workflowId: campaignId,
    // Temporal itself refuses a completed campaign's id too (a race with the check above).
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    taskQueue: config.temporal.taskQueues.light,
    args: [{ campaignId, config }],
    typedSearchAttributes: [{ key: LmsiCampaignId, value: campaignId }],
  });
}

export async function pauseCampaign(client: Client, campaignId: string): Promise<void> {
  await client.workflow.getHandle(campaignId).signal(pauseSignal);
}

export async function resumeCampaign(client: Client, campaignId: string): Promise<void> {
  await client.workflow.getHandle(campaignId).signal(resumeSignal);
}

/** Cancels the campaign: its running round and that round's running activity are cancelled cleanly. */
export async function cancelCampaign(client: Client, campaignId: string): Promise<void> {
  await client.workflow.getHandle(campaignId).cancel();
}

/** What a campaign's own workflow says about its finished rounds (all of them once it completed). */
interface CampaignRecord {
  /** The latest run's status, null when the campaign workflow no longer exists. */
  status: string | null;
  /**
   * Rounds the campaign finished before its latest run (all rounds once it completed); once the
   * campaign workflow is gone, the rounds of its index in the artifact store (when given one).
   */
  rounds: RoundSummary[];
  result: CampaignResult | null;
  /** The state the latest run started with (null: completed, gone, or a first run). */
  state?: CampaignState | null;
}

async function campaignRecord(
  client: Client,
  campaignId: string,
  store?: ArtifactStore,
): Promise<CampaignRecord> {
  const handle = client.workflow.getHandle(campaignId);
  let described;
  try {
    described = await handle.describe();
  } catch (e) {
    if (!(e instanceof WorkflowNotFoundError)) throw e;
    // Deleted after Temporal's retention: the campaign index still lists its recorded rounds.
    const index = store ? await readCampaignIndex(store, campaignId) : null;
    return { status: null, rounds: index?.rounds ?? [], result: null };
  }
  const status = described.status.name;
  if (status === 'COMPLETED') {
    const result = (await handle.result()) as CampaignResult;
    return { status, rounds: result.rounds, result };
  }
  // Running, failed, cancelled: the rounds before this run came in with its input (continueAsNew).
  const input = await runInput(client, campaignId, described.runId);
  return { status, rounds: input?.state?.rounds ?? [], result: null, state: input?.state ?? null };
}

/** The input a campaign run started with: its first history event, decoded as the client decodes. */
async function runInput(
  client: Client,
  workflowId: string,
  runId: string,
): Promise<CampaignInput | undefined> {
  const { namespace, loadedDataConverter } = client.options;
  const page = await client.workflowService.getWorkflowExecutionHistory({
    namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const started = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (!started) return undefined;
  return decodeFromPayloadsAtIndex<CampaignInput>(loadedDataConverter, 0, started.input?.payloads, {
    type: 'workflow',
    namespace,
    workflowId,
  });
}

/**
 * The finished rounds the store's campaign index lists past `from`: a round the campaign's current
 * run finished (and recorded) before it continued as new carries it in its state.
 */
async function indexedRoundsFrom(
  store: ArtifactStore | undefined,
  campaignId: string,
  from: number,
): Promise<RoundSummary[]> {
  if (!store) return [];
  const index = await readCampaignIndex(store, campaignId);
  return (index?.rounds ?? []).filter((r) => r.round >= from);
}

/**
 * The finished rounds of a campaign with their whole lineage. Rounds are listed by the campaign
 * itself (its result, or its latest run's input; its index in the artifact store once the workflow is
 * gone), then by its index for a round its current run just finished. Each round's lineage is read
 * from one place: the record the round wrote to the artifact store (report/round-record.ts). A round
 * run before rounds were recorded has none, and fails with its round number.
 */
export async function finishedRounds(
  client: Client,
  campaignId: string,
  options: { store: ArtifactStore },
): Promise<{ summary: RoundSummary; result: RoundResult }[]> {
  const { store } = options;
  const record = await campaignRecord(client, campaignId, store);
  const summaries = [...record.rounds, ...(await indexedRoundsFrom(store, campaignId, record.rounds.length))];
  const out: { summary: RoundSummary; result: RoundResult }[] = [];
  for (const summary of summaries) {
    out.push({ summary, result: await roundResultOf(summary, { campaignId, store }) });
  }
  return out;
}

/**
 * A campaign's status: the live query while it runs (state, round, step, progress, per-round
 * metrics); once it is closed, rebuilt from its own result or last run (rounds, report), which needs
 * no worker and no round workflow (they may be gone after Temporal's retention). Once the campaign
 * workflow is gone too, rebuilt from its index in the artifact store when given one.
 */
export async function campaignStatus(
  client: Client,
  campaignId: string,
  options: { store?: ArtifactStore } = {},
): Promise<CampaignStatus> {
  const handle = client.workflow.getHandle(campaignId);
  let described;
  try {
    described = await handle.describe();
  } catch (e) {
    if (!(e instanceof WorkflowNotFoundError) || !options.store) throw e;
    const index = await readCampaignIndex(options.store, campaignId);
    if (!index) throw e;
    return statusFromIndex(index);
  }
  const closed: Partial<Record<string, CampaignStateName>> = {
    COMPLETED: 'completed',
    FAILED: 'failed',
    CANCELLED: 'cancelled',
    TERMINATED: 'failed',
    TIMED_OUT: 'failed',
  };
  const closedState = closed[described.status.name];
  if (closedState === undefined) return runningStatus(client, campaignId, described);
  const record = await campaignRecord(client, campaignId);
  const rounds = [
    ...record.rounds,
    ...(await indexedRoundsFrom(options.store, campaignId, record.rounds.length)),
  ];
  const result = record.result;
  const last = rounds[rounds.length - 1];
  const diagnosed = closedState === 'failed' ? await campaignFailure(client, campaignId, described) : null;
  const { report: stoppedReport, ...failure } = diagnosed ?? {};
  return {
    campaignId,
    state: closedState,
    round: diagnosed?.round ?? last?.round ?? 0,
    step: closedState === 'completed' ? 'done' : (diagnosed?.step ?? 'starting'),
    progress: { done: 0, total: 0 },
    rounds,
    // A failed or cancelled campaign's best model so far: its last run's state.
    bestModelRef: result?.bestModelRef ?? record.state?.bestModelRef ?? null,
    bestAccuracy: result?.bestAccuracy ?? record.state?.bestAccuracy ?? null,
    ...(result ? { report: result.report ?? null } : {}),
    ...(stoppedReport ? { report: stoppedReport } : {}),
    ...(result?.reportError ? { reportError: result.reportError } : {}),
    ...(result?.stopped ? { stopped: result.stopped } : {}),
    ...(diagnosed ? { failure: failure as CampaignFailure } : {}),
  };
}

/**
 * A running campaign's status: its live status query, with what holds it back (activities being
 * retried, workflow tasks that keep failing). A campaign whose workflow task keeps failing (e.g. a
 * worker without the payload key) answers no query: its status then comes from its description.
 */
async function runningStatus(
  client: Client,
  campaignId: string,
  described: WorkflowExecutionDescription,
): Promise<CampaignStatus> {
  let status: CampaignStatus;
  try {
    // A query needs a workflow task: one that keeps failing would hold it to the query's timeout.
    const taskAttempt = described.raw.pendingWorkflowTask?.attempt ?? 0;
    if (taskAttempt >= 2) throw new Error(`its workflow task is failing (attempt ${taskAttempt})`);
    status = await client.workflow.getHandle(campaignId).query(statusQuery);
  } catch (e) {
    // The server itself unreachable is for the caller to wait out, not a status to show.
    if (serverUnreachable(e)) throw e;
    const where = stepAttribute(described);
    const input = await runInput(client, campaignId, described.runId).catch(() => undefined);
    status = {
      campaignId,
      state: 'running',
      round: where.round ?? input?.state?.nextRound ?? 0,
      step: where.step ?? 'starting',
      progress: { done: 0, total: 0 },
      rounds: input?.state?.rounds ?? [],
      bestModelRef: input?.state?.bestModelRef ?? null,
      bestAccuracy: input?.state?.bestAccuracy ?? null,
      queryError: e instanceof Error ? e.message : String(e),
    };
  }
  const { retrying, failingWorkflowTasks, running } = await campaignTroubles(client, described, status.round);
  return {
    ...status,
    ...(retrying.length > 0 ? { retrying } : {}),
    ...(running.length > 0 ? { running } : {}),
    ...(failingWorkflowTasks.length > 0 ? { failingWorkflowTasks } : {}),
  };
}

/**
 * Whether a campaign's index shows it finished: its report is recorded (the last step of a completed
 * campaign, or of one a round stopped), or its last configured round is. Only then can the store
 * alone stand for it: a running campaign's index lacks its live state.
 */
export function indexShowsFinished(index: CampaignIndex): boolean {
  const last = index.rounds[index.rounds.length - 1];
  return (
    index.report !== null ||
    index.stopped !== undefined ||
    index.failure !== undefined ||
    (index.plannedRounds !== null && last?.round === index.plannedRounds)
  );
}

/**
 * A finished campaign read from the artifact store alone (no Temporal server): its status and its
 * rounds' results from its index and round records. null when the store does not show it finished.
 */
export async function finishedCampaignFromStore(
  store: ArtifactStore,
  campaignId: string,
): Promise<{ status: CampaignStatus; rounds: { summary: RoundSummary; result: RoundResult }[] } | null> {
  const index = await readCampaignIndex(store, campaignId);
  if (!index || !indexShowsFinished(index)) return null;
  const rounds = [];
  for (const summary of index.rounds) {
    rounds.push({ summary, result: await roundResultOf(summary, { campaignId, store }) });
  }
  return { status: statusFromIndex(index), rounds };
}

/**
 * The status of a campaign whose workflow Temporal has deleted, from its index. Only closed workflows
 * are deleted, so it is closed: failed, with its reason, when it recorded a failure after its last
 * round (workflows/campaign.ts) or a round stopped it; completed when its report, or its last
 * configured round, is recorded; otherwise it stopped early, which reads as failed (cancelled and
 * terminated runs record nothing). A report step that failed is not recorded: no report is shown.
 */
function statusFromIndex(index: CampaignIndex): CampaignStatus {
  const last = index.rounds[index.rounds.length - 1];
  const { stopped, failure: recorded } = index;
  // The failure the campaign recorded; a campaign stopped by a round that kept too few paths (run
  // before failures were recorded) has its reason in its report.
  const failure: CampaignFailure | undefined = recorded
    ? {
        message: recorded.message,
        type: recorded.type,
        round: recorded.round,
        step: recorded.step as CampaignFailure['step'],
        activity: recorded.activity,
        workflowId: recorded.workflowId,
      }
    : stopped
      ? {
          message: stopped.reason,
          type: FailureType.NothingKept,
          round: stopped.round,
          step: 'vote',
          activity: null,
          workflowId: index.campaignId,
        }
      : undefined;
  const completed =
    !failure &&
    (index.report !== null || (index.plannedRounds !== null && last?.round === index.plannedRounds));
  return {
    campaignId: index.campaignId,
    state: completed ? 'completed' : 'failed',
    round: failure?.round ?? last?.round ?? 0,
    step: completed ? 'done' : (failure?.step ?? 'starting'),
    progress: { done: 0, total: 0 },
    rounds: index.rounds,
    bestModelRef: index.bestModelRef,
    bestAccuracy: index.bestAccuracy,
    ...(completed || stopped ? { report: index.report } : {}),
    ...(failure ? { failure } : {}),
  };
}

export interface CampaignListing {
  campaignId: string;
  status: string;
  startTime: Date;
  /** Where it is, from its search attributes (null before it set them). */
  round: number | null;
  step: string | null;
  bestGreedyAccuracy: number | null;
}

/** Which campaigns `listCampaigns` returns: each given field narrows the list (search attributes). */
export interface CampaignFilter {
  /** Temporal's execution status: Running, Completed, Failed, Canceled, Terminated, TimedOut. */
  status?: string;
  /** The step it is at (or ended at): evaluate, sample, vote, train, ... */
  step?: string;
  /** At least this best greedy accuracy so far (0..1). */
  minBestAccuracy?: number;
  /** Any further visibility query, ANDed (e.g. `LmsiRound >= 2`). */
  query?: string;
}

const STATUSES = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'TimedOut'];
const quoted = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The visibility query of a filter: lmsi's campaign workflows, narrowed by lmsi's search attributes. */
export function campaignListQuery(filter: CampaignFilter = {}): string {
  const terms = [`WorkflowType = 'selfImprovementCampaign'`];
  if (filter.status !== undefined) {
    const status = STATUSES.find((s) => s.toLowerCase() === filter.status!.toLowerCase());
    if (!status) throw new RangeError(`status "${filter.status}": one of ${STATUSES.join(', ')}`);
    terms.push(`ExecutionStatus = ${quoted(status)}`);
  }
  if (filter.step !== undefined) terms.push(`LmsiStep = ${quoted(filter.step)}`);
  if (filter.minBestAccuracy !== undefined) terms.push(`LmsiBestGreedyAccuracy >= ${filter.minBestAccuracy}`);
  if (filter.query !== undefined) terms.push(`(${filter.query})`);
  return terms.join(' AND ');
}

/** Campaigns on this namespace (the latest run of each) that match `filter`, newest first. */
export async function listCampaigns(client: Client, filter: CampaignFilter = {}): Promise<CampaignListing[]> {
  const out: CampaignListing[] = [];
  for await (const w of client.workflow.list({ query: campaignListQuery(filter) })) {
    if (w.status.name === 'CONTINUED_AS_NEW') continue;
    const attrs = w.typedSearchAttributes;
    out.push({
      campaignId: w.workflowId,
      status: w.status.name,
      startTime: w.startTime,
      round: attrs.get(LmsiRound) ?? null,
      step: attrs.get(LmsiStep) ?? null,
      bestGreedyAccuracy: attrs.get(LmsiBestGreedyAccuracy) ?? null,
    });
  }
  return out;
}
