import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import type { FineTuneHeartbeat } from '../contract';
import { roundWorkflowId } from '../contract';

/** A started activity of a workflow as the server sees it, with its heartbeat details decoded. */
export interface StartedActivityDetails {
  activityId: string;
  type: string;
  attempt: number;
  identity: string;
  details: unknown;
}

/** The first of `payloads`, through the client's codecs (a campaign with a codec key encrypts them). */
export async function decodePayloads(
  client: Client,
  payloads: Payload[] | null | undefined,
): Promise<unknown> {
  if (!payloads || payloads.length === 0) return undefined;
  const { payloadConverter, payloadCodecs } = client.options.loadedDataConverter;
  let decoded = payloads;
  for (const codec of [...payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return payloadConverter.fromPayload(decoded[0]);
}

/** Activities of `workflowId` that a worker has started and not finished; none if it is gone. */
export async function runningActivities(
  client: Client,
  workflowId: string,
): Promise<StartedActivityDetails[]> {
  let described;
  try {
    described = await client.workflow.getHandle(workflowId).describe();
  } catch {
    return [];
  }
  const State = proto.api.enums.v1.PendingActivityState;
  const out: StartedActivityDetails[] = [];
  for (const p of described.raw.pendingActivities ?? []) {
    if (p.state !== State.PENDING_ACTIVITY_STATE_STARTED) continue;
    out.push({
      activityId: p.activityId ?? '',
      type: p.activityType?.name ?? '',
      attempt: p.attempt ?? 0,
      identity: p.lastWorkerIdentity ?? '',
      details: await decodePayloads(client, p.heartbeatDetails?.payloads),
    });
  }
  return out;
}

/**
 * Where a round's fine-tuning (or TTRL's policy update) is, from its activity's last heartbeat: the
 * round workflow reports its train step as one unit, and the trainer's steps are the only progress
 * inside it. null while no attempt has heartbeated.
 */
export async function trainingProgress(
  client: Client,
  campaignId: string,
  round: number,
): Promise<FineTuneHeartbeat['progress'] | null> {
  const running = await runningActivities(client, roundWorkflowId(campaignId, round));
  const details = running.find((a) => a.type === 'fineTune' || a.type === 'policyUpdate')?.details as
    FineTuneHeartbeat | undefined;
  return details?.progress ?? null;
}
