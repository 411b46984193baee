import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { roundWorkflowId } from '../contract';

/**
 * The round's steps by activity type: exemplars and self-generated questions are "prepare"; with a
 * distilled student, its fine-tuning and evaluation count in "train" and "evaluate"; "record" is the
 * round writing its own record to the artifact store.
 */
const STEP_OF: Record<string, RoundStepName> = {
  generateExemplars: 'prepare',
  generateQuestions: 'prepare',
  samplePaths: 'sample',
  voteAndFilter: 'vote',
  buildTrainingSet: 'format',
  // strategy 'ttrl': rewarding the paths stands where formatting them does, the GRPO update where fine-tuning does.
  buildPolicySet: 'format',
  fineTune: 'train',
  policyUpdate: 'train',
  evaluateShard: 'evaluate',
  summarizeEvaluation: 'evaluate',
  recordRound: 'record',
};
export type RoundStepName =
  'prepare' | 'sample' | 'vote' | 'format' | 'train' | 'evaluate' | 'record' | 'other';

type Timestamp = temporal.api.history.v1.IHistoryEvent['eventTime'];

function ms(ts: Timestamp): number {
  if (!ts) throw new Error('history event without a time');
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : Number(ts.seconds?.toString() ?? 0);
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
}

/**
 * Where a finished round's time went, read from its workflow history: per step, seconds from the
 * first of its activities scheduled to the last one completed (sampling shards overlap, so this is
 * the step's span, not the sum of its activities; retries and time waiting for a worker included).
 * Steps that did not run are absent. Needs the round workflow, so only while the server keeps it.
 */
export async function roundStepSeconds(
  client: Client,
  campaignId: string,
  round: number,
): Promise<Partial<Record<RoundStepName, number>>> {
  const history = await client.workflow.getHandle(roundWorkflowId(campaignId, round)).fetchHistory();
  const scheduled = new Map<string, { step: RoundStepName; at: number }>();
  const span = new Map<RoundStepName, { from: number; to: number }>();
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a) {
      const step = STEP_OF[a.activityType?.name ?? ''] ?? 'other';
      scheduled.set(String(e.eventId), { step, at: ms(e.eventTime) });
      continue;
    }
    const done = e.activityTaskCompletedEventAttributes;
    if (!done) continue;
    const s = scheduled.get(String(done.scheduledEventId));
    if (!s)
      throw new Error(`activity completed without its scheduled event ${String(done.scheduledEventId)}`);
    const to = ms(e.eventTime);
    const cur = span.get(s.step);
    span.set(s.step, cur ? { from: Math.min(cur.from, s.at), to: Math.max(cur.to, to) } : { from: s.at, to });
  }
  return Object.fromEntries(
    [...span].map(([step, { from, to }]) => [step, Math.round((to - from) / 100) / 10]),
  );
}
