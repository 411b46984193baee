import {
  ActivityFailure,
  ChildWorkflowFailure,
  isGrpcServiceError,
  ServiceError,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowFailedError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { ApplicationFailure, type ProtoFailure } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal as proto } from '@temporalio/proto';
import { LmsiRound, LmsiStep } from '../workflows/search-attributes';
import {
  FailureType,
  roundWorkflowId,
  type ReportArtifacts,
  type CampaignFailure,
  type CampaignStep,
  type FailingWorkflowTask,
  type RetryingActivity,
  type RunningActivity,
} from '../contract';

/**
 * What a user needs when a campaign stops moving: why a failed campaign failed and where, which
 * activity is failing and being retried, which workflow task keeps failing and its likely cause.
 * Temporal has all of it (closed workflow's failure, pending activities, workflow task attempts);
 * without this a failed campaign shows only "failed" and a retrying one looks healthy.
 */

const GRPC_UNAVAILABLE = 14;

/** Whether `e` says the Temporal server could not be reached (as opposed to an answer from it). */
export function serverUnreachable(e: unknown): boolean {
  const inner = e instanceof ServiceError ? e.cause : e;
  // gRPC UNAVAILABLE: the server is down or restarting (not an answer about the campaign).
  if (isGrpcServiceError(inner) && Number(inner.code) === GRPC_UNAVAILABLE) return true;
  return e instanceof Error && /Failed to connect before the deadline/.test(e.message);
}

/** The step an activity runs in, when the step attribute cannot tell (the campaign's own activities). */
const ACTIVITY_STEP: Record<string, CampaignStep> = {
  importModel: 'starting',
  snapshotDataset: 'starting',
  snapshotExemplars: 'starting',
  snapshotReplayExamples: 'starting',
  generateExemplars: 'exemplars',
  generateQuestions: 'questions',
  samplePaths: 'sample',
  voteAndFilter: 'vote',
  buildTrainingSet: 'format',
  buildPolicySet: 'reward',
  fineTune: 'train',
  policyUpdate: 'train',
  evaluateShard: 'evaluate',
  summarizeEvaluation: 'evaluate',
  recordRound: 'done',
  writeReport: 'report',
};

/** Round number of a round workflow id of this campaign, or null. */
function roundOf(campaignId: string, workflowId: string): number | null {
  const prefix = `${campaignId}/round-`;
  if (!workflowId.startsWith(prefix)) return null;
  const n = Number(workflowId.slice(prefix.length));
  return Number.isInteger(n) ? n : null;
}

/**
 * The campaign's own LmsiStep attribute: `round-<n>:<step>` while rounds run, `report`, `completed`
 * or `cancelled` after. Missing before round 0's first step.
 */
export function stepAttribute(described: WorkflowExecutionDescription): {
  round: number | null;
  step: CampaignStep | null;
} {
  const value = described.typedSearchAttributes.get(LmsiStep);
  const roundAttr = described.typedSearchAttributes.get(LmsiRound);
  const m = value === undefined ? null : /^round-(\d+):(.+)$/.exec(value);
  if (m) return { round: Number(m[1]), step: m[2] as CampaignStep };
  if (value === 'report') return { round: roundAttr ?? null, step: 'report' };
  return { round: roundAttr ?? null, step: null };
}

/** A message for a failure this client could not decode. */
function undecodable(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const cause = likelyCause(message, 'client');
  return cause ? `${message} (${cause})` : message;
}

/**
 * What most likely makes a payload or failure undecodable, from its message. `side` is who failed
 * to decode: a worker (its workflow task fails) or this client.
 */
export function likelyCause(message: string, side: 'worker' | 'client'): string | null {
  const who = side === 'worker' ? 'the worker' : 'this client';
  if (/Unknown encoding: binary\/encrypted/.test(message))
    return `${who} has no payload key while the campaign's payloads are encrypted: give it the same LMSI_CODEC_KEY or LMSI_CODEC_KEY_FILE as the process that started the campaign`;
  if (/not in the keyring|failed authentication/.test(message))
    return `${who} has a different payload key from the one that sealed the payloads: give every worker and client the same keyring (LMSI_CODEC_KEY or LMSI_CODEC_KEY_FILE)`;
  if (/^Encoded failure$/.test(message))
    return `the failure is encrypted and ${who} has no payload key to read it (LMSI_CODEC_KEY or LMSI_CODEC_KEY_FILE)`;
  if (/[Nn]ondetermin/.test(message))
    return 'the workflow code changed in a way this run cannot replay (a change made without patched()): run the version that started it';
  return null;
}

/**
 * Why a closed, failed campaign failed: the root of its failure chain (campaign -> round -> activity ->
 * application failure) with the round, step and activity it happened in.
 */
export async function campaignFailure(
  client: Client,
  campaignId: string,
  described: WorkflowExecutionDescription,
): Promise<CampaignFailure & { report?: ReportArtifacts }> {
  const where = stepAttribute(described);
  let err: unknown;
  try {
    await client.workflow.getHandle(campaignId, described.runId).result();
    err = null;
  } catch (e) {
    err = e;
  }
  if (!(err instanceof WorkflowFailedError)) {
    return {
      message:
        err === null
          ? `campaign workflow ${described.status.name.toLowerCase()}`
          : `its failure could not be read: ${undecodable(err)}`,
      type: null,
      ...where,
      activity: null,
      workflowId: campaignId,
    };
  }
  let workflowId = campaignId;
  let activity: string | null = null;
  let root: Error = err;
  for (let e: Error | undefined = err.cause; e; e = e.cause instanceof Error ? e.cause : undefined) {
    if (e instanceof ChildWorkflowFailure) workflowId = e.execution.workflowId ?? workflowId;
    if (e instanceof ActivityFailure) activity = e.activityType;
    root = e;
  }
  const round = roundOf(campaignId, workflowId) ?? where.round;
  // The campaign's step attribute names the round's step as its last progress signal did; an
  // activity of the campaign itself (its input snapshot, round record, report) has its own step.
  const step =
    where.round === round && where.step !== null
      ? where.step
      : activity !== null
        ? (ACTIVITY_STEP[activity] ?? null)
        : where.step;
  // A campaign stopped by a round that kept too few paths wrote its report first (workflows/campaign.ts).
  const stopDetails =
    root instanceof ApplicationFailure && root.type === FailureType.NothingKept
      ? (root.details?.[0] as { report?: ReportArtifacts | null } | undefined)
      : undefined;
  return {
    message: root === err ? described.status.name.toLowerCase() : root.message,
    type: failureType(root, described),
    round,
    step,
    activity,
    workflowId,
    ...(stopDetails?.report ? { report: stopDetails.report } : {}),
  };
}

function failureType(root: Error, described: WorkflowExecutionDescription): string | null {
  if (root instanceof ApplicationFailure) return root.type ?? 'Error';
  if (root instanceof TimeoutFailure) return 'Timeout';
  if (root instanceof TerminatedFailure || described.status.name === 'TERMINATED') return 'Terminated';
  if (described.status.name === 'TIMED_OUT') return 'Timeout';
  return root.name === 'Error' ? null : root.name;
}

/** The message of a proto failure (its root cause), decoded through this client's codecs. */
async function failureMessage(
  client: Client,
  failure: ProtoFailure | null | undefined,
): Promise<string | null> {
  if (!failure) return null;
  try {
    const e = await decodeOptionalFailureToOptionalError(client.options.loadedDataConverter, failure);
    if (!e) return null;
    let root: Error = e;
    while (root.cause instanceof Error) root = root.cause;
    const type = root instanceof ApplicationFailure && root.type ? `${root.type}: ` : '';
    return `${type}${root.message}`;
  } catch (e) {
    return `(undecodable failure: ${undecodable(e)})`;
  }
}

/** Activities of a workflow that failed at least once and are being retried. */
async function retryingActivitiesOf(
  client: Client,
  described: WorkflowExecutionDescription,
): Promise<RetryingActivity[]> {
  const out: RetryingActivity[] = [];
  for (const p of described.raw.pendingActivities ?? []) {
    if ((p.attempt ?? 1) < 2) continue;
    const next = optionalTsToMs(p.nextAttemptScheduleTime);
    out.push({
      workflowId: described.workflowId,
      activity: p.activityType?.name ?? '',
      activityId: p.activityId ?? '',
      attempt: p.attempt ?? 0,
      maximumAttempts: p.maximumAttempts ? p.maximumAttempts : null,
      lastFailure: await failureMessage(client, p.lastFailure),
      nextRetry:
        next !== undefined &&
        p.state === proto.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
          ? new Date(next).toISOString()
          : null,
    });
  }
  return out;
}

/** Activities of a workflow a worker has started: which worker, since when, its last heartbeat. */
function runningActivitiesOf(described: WorkflowExecutionDescription): RunningActivity[] {
  const iso = (t: Parameters<typeof optionalTsToMs>[0]) => {
    const ms = optionalTsToMs(t);
    return ms === undefined ? null : new Date(ms).toISOString();
  };
  return (described.raw.pendingActivities ?? [])
    .filter((p) => p.state === proto.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED)
    .map((p) => ({
      workflowId: described.workflowId,
      activity: p.activityType?.name ?? '',
      activityId: p.activityId ?? '',
      attempt: p.attempt ?? 0,
      worker: p.lastWorkerIdentity ?? '',
      startedAt: iso(p.lastStartedTime),
      lastHeartbeat: iso(p.lastHeartbeatTime),
    }));
}

/**
 * A workflow task that failed and is being retried. Temporal records only the first failure of a
 * series in the history (later attempts are transient), so the last WorkflowTaskFailed event says why.
 */
async function failingWorkflowTaskOf(
  client: Client,
  described: WorkflowExecutionDescription,
): Promise<FailingWorkflowTask | null> {
  const attempt = described.raw.pendingWorkflowTask?.attempt ?? 0;
  if (attempt < 2) return null;
  const { namespace } = client.options;
  const page = await client.workflowService.getWorkflowExecutionHistoryReverse({
    namespace,
    execution: { workflowId: described.workflowId, runId: described.runId },
    maximumPageSize: 50,
  });
  const failed = page.history?.events?.find(
    (e) => e.workflowTaskFailedEventAttributes,
  )?.workflowTaskFailedEventAttributes;
  const lastFailure = await failureMessage(client, failed?.failure);
  return {
    workflowId: described.workflowId,
    attempt,
    lastFailure,
    likelyCause: lastFailure === null ? null : likelyCause(lastFailure, 'worker'),
  };
}

async function describeOrNull(
  client: Client,
  workflowId: string,
): Promise<WorkflowExecutionDescription | null> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch {
    return null;
  }
}

/**
 * What holds a running campaign back: its own and its current round's retrying activities and failing
 * workflow tasks; and what runs: their started activities and the workers running them. `round` is the
 * round it runs (null: its rounds are not known, only the campaign).
 */
export async function campaignTroubles(
  client: Client,
  described: WorkflowExecutionDescription,
  round: number | null,
): Promise<{
  retrying: RetryingActivity[];
  failingWorkflowTasks: FailingWorkflowTask[];
  running: RunningActivity[];
}> {
  const workflows = [described];
  if (round !== null) {
    const child = await describeOrNull(client, roundWorkflowId(described.workflowId, round));
    if (child && child.status.name === 'RUNNING') workflows.push(child);
  }
  const retrying: RetryingActivity[] = [];
  const failingWorkflowTasks: FailingWorkflowTask[] = [];
  const running: RunningActivity[] = [];
  for (const w of workflows) {
    retrying.push(...(await retryingActivitiesOf(client, w)));
    running.push(...runningActivitiesOf(w));
    const task = await failingWorkflowTaskOf(client, w);
    if (task) failingWorkflowTasks.push(task);
  }
  return { retrying, failingWorkflowTasks, running };
}
