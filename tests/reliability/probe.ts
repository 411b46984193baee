import type { Client } from '@temporalio/client';
import {
  decodePayloads as decode,
  runningActivities,
  type StartedActivityDetails,
} from '../../client/running-activities';

export { runningActivities, type StartedActivityDetails };

export async function waitFor<T>(
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  timeoutMs = 180_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Waits until an activity of `type` has heartbeated details satisfying `ok`, and returns it. */
export async function waitForActivity(
  client: Client,
  workflowId: string,
  type: string,
  ok: (details: unknown) => boolean,
): Promise<StartedActivityDetails> {
  const found = await waitFor(
    async () => (await runningActivities(client, workflowId)).find((a) => a.type === type && ok(a.details)),
    (a) => a !== undefined,
    `${type} in ${workflowId}`,
  );
  return found!;
}

/** Per activity of a closed workflow: its type, the attempt that completed and the worker that ran it. */
export interface CompletedActivity {
  activityId: string;
  type: string;
  input: unknown;
  result: unknown;
  attempt: number;
  identity: string;
}

export async function completedActivities(client: Client, workflowId: string): Promise<CompletedActivity[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, { activityId: string; type: string; input: unknown }>();
  const started = new Map<string, { attempt: number; identity: string }>();
  const out: CompletedActivity[] = [];
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      scheduled.set(id, {
        activityId: a.activityId ?? '',
        type: a.activityType?.name ?? '',
        input: await decode(client, a.input?.payloads),
      });
    } else if (e.activityTaskStartedEventAttributes) {
      const a = e.activityTaskStartedEventAttributes;
      started.set(String(a.scheduledEventId), { attempt: a.attempt ?? 0, identity: a.identity ?? '' });
    } else if (e.activityTaskCompletedEventAttributes) {
      const a = e.activityTaskCompletedEventAttributes;
      const s = String(a.scheduledEventId);
      const result = await decode(client, a.result?.payloads);
      out.push({ ...scheduled.get(s)!, ...started.get(s)!, result });
    }
  }
  return out;
}
