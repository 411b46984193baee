import * as path from 'node:path';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { CampaignConfig } from '../config/campaign';
import { selfImprovementCampaign } from '../workflows/campaign';
import { pauseSignal, resumeSignal, statusQuery } from '../workflows/messages';
import { LmsiCampaignId } from '../workflows/search-attributes';
import { summarizeRound } from '../workflows/summary';
import {
  roundWorkflowId,
  type CampaignResult,
  type CampaignStateName,
  type CampaignStatus,
  type RoundResult,
  type RoundSummary,
} from '../workflows/types';

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

export async function startCampaign(
  client: Client,
  config: CampaignConfig,
  options: { campaignId?: string } = {},
): Promise<WorkflowHandle<typeof selfImprovementCampaign>> {
  const campaignId = options.campaignId ?? config.name;
  return client.workflow.start(selfImprovementCampaign, {
    workflowId: campaignId,
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

/** The finished rounds of a campaign, read from its round workflows' results. */
export async function finishedRounds(
  client: Client,
  campaignId: string,
): Promise<{ summary: RoundSummary; result: RoundResult }[]> {
  const out: { summary: RoundSummary; result: RoundResult }[] = [];
  for (let round = 0; ; round++) {
    const id = roundWorkflowId(campaignId, round);
    const handle = client.workflow.getHandle<(i: unknown) => Promise<RoundResult>>(id);
    let described;
    try {
      described = await handle.describe();
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) break;
      throw e;
    }
    if (described.status.name !== 'COMPLETED') break;
    const result = await handle.result();
    out.push({ summary: summarizeRound(result, id), result });
  }
  return out;
}

/**
 * A campaign's status: the live query while it runs (state, round, step, progress, per-round
 * metrics); once it is closed, rebuilt from its round workflows, which needs no worker.
 */
export async function campaignStatus(client: Client, campaignId: string): Promise<CampaignStatus> {
  const handle = client.workflow.getHandle(campaignId);
  const described = await handle.describe();
  const closed: Partial<Record<string, CampaignStateName>> = {
    COMPLETED: 'completed',
    FAILED: 'failed',
    CANCELLED: 'cancelled',
    TERMINATED: 'failed',
    TIMED_OUT: 'failed',
  };
  const closedState = closed[described.status.name];
  if (closedState === undefined) return handle.query(statusQuery);
  const rounds = (await finishedRounds(client, campaignId)).map((r) => r.summary);
  let best: CampaignResult | null = null;
  if (closedState === 'completed') best = (await handle.result()) as CampaignResult;
  const last = rounds[rounds.length - 1];
  return {
    campaignId,
    state: closedState,
    round: last?.round ?? 0,
    step: closedState === 'completed' ? 'done' : 'starting',
    progress: { done: 0, total: 0 },
    rounds,
    bestModelRef: best?.bestModelRef ?? null,
    bestAccuracy: best?.bestAccuracy ?? null,
  };
}

export interface CampaignListing {
  campaignId: string;
  status: string;
  startTime: Date;
}

/** Campaigns on this namespace (the latest run of each), newest first. */
export async function listCampaigns(client: Client): Promise<CampaignListing[]> {
  const out: CampaignListing[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = 'selfImprovementCampaign'` })) {
    if (w.status.name === 'CONTINUED_AS_NEW') continue;
    out.push({ campaignId: w.workflowId, status: w.status.name, startTime: w.startTime });
  }
  return out;
}
