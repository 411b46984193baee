import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { finishedRounds, runningActivities, startCampaign, type StartedActivityDetails } from '../../client';
import { CampaignConfig } from '../../config/campaign';
import { roundWorkflowId, type RoundResult } from '../../contract';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createArtifactStore } from '../../store/factory';
import type { S3ArtifactStore } from '../../store/s3';
import { faultCampaignConfig } from '../../testing/fault-campaign';
import { reconnect, cut, type Host } from './netns';
import type { S3Service, TemporalService } from './services';
import { activityAttempts, completedBy, tallyCampaign, type CampaignTally } from './tally';
import { startHostWorker, type HostWorker, type Role } from './workers';

export interface Cluster {
  light: Host;
  accelerators: Host[];
  temporal: TemporalService;
  s3: S3Service;
  client: Client;
  root: string;
  modelDir: string;
  dataDir: string;
  /** Every worker started, so the exit path can kill what is left. */
  workers: HostWorker[];
  log(line: string): void;
}

/** What was running on the round when a fault hit, as Temporal showed it. */
interface RunningActivity {
  type: string;
  activityId: string;
  attempt: number;
  identity: string;
  progress: unknown;
}

export interface FaultRecord {
  fault: 'cut-host-mid-sampling' | 'cut-host-mid-training' | 'restart-s3-mid-round';
  /** Seconds since the campaign started. */
  atSeconds: number;
  /** The round's started activities at that moment (type, worker identity, heartbeat). */
  running: RunningActivity[];
  host?: string;
  /** The activity the fault hit: the one on the host that was cut, or the evaluation S3 went away under. */
  victim?: RunningActivity;
  /** From the cut until Temporal gave up on the victim's attempt (its heartbeat timeout) and scheduled the next. */
  serverMovedItAfterSeconds?: number;
  /** From the cut until its worker was SIGKILLed. */
  killedAfterSeconds?: number;
  /** The worker started on the host once its cable was back, or null when the host stayed away. */
  restartedAs?: string | null;
  /** From `stop --kill` until `start` had the server taking writes again. */
  s3DownSeconds?: number;
  /** Filled in once the campaign is done: who finished the victim, and in which attempt. */
  finishedBy?: { identity: string; attempt: number } | null;
}

export interface CampaignRun {
  label: string;
  campaignId: string;
  s3Prefix: string;
  wallSeconds: number;
  faults: FaultRecord[];
  tally: CampaignTally;
  /**
   * Draft parts still in the bucket once the campaign is done. A sealed shard removes its draft; a
   * part here is one a zombie attempt appended after that (harmless: nothing reads a sealed draft).
   */
  leftoverDraftObjects: number;
  /** Per worker identity, the activities it completed (each activity's completing attempt). */
  completedBy: Record<string, Record<string, number>>;
  resumed: { samplingShards: number; evaluationShards: number; trainingFromStep: number[] };
}

const State = proto.api.enums.v1.PendingActivityState;

/**
 * Runs one campaign on the cluster: a light worker and one accelerator worker per accelerator host,
 * each an `lmsi worker` in its own namespace with its own cache of the bucket, the campaign's
 * artifacts under `s3Prefix`. With `inject`, three faults hit its self-improvement round, each
 * triggered by what Temporal shows running (never by a timer): an accelerator host cut off while it
 * samples (its worker SIGKILLed once Temporal has moved its shard; the host then comes back with a
 * new worker), the host that fine-tunes cut off (SIGKILLed; it stays away, so the campaign finishes on
 * the remaining hosts), and the S3 server SIGKILLed and started again as the round's evaluation starts.
 */
export async function runCampaign(
  cluster: Cluster,
  label: string,
  options: { inject: boolean; unlabeled: number; eval: number; m: number; steps: number },
): Promise<CampaignRun> {
  const { client, s3 } = cluster;
  const base = faultCampaignConfig(
    cluster.dataDir,
    cluster.modelDir,
    `cluster-${label}`,
    path.join(cluster.root, label, 'client'),
  );
  const s3Config = { endpoint: s3.endpoint, bucket: s3.bucket, prefix: label, forcePathStyle: true };
  const config = CampaignConfig.parse({
    ...base,
    // Two shards, so both accelerator hosts sample at once and the cut lands on one of them; long
    // enough that the worker's throttled heartbeats (every 0.8 × the 5 s timeout) show progress.
    sampling: { ...base.sampling, m: options.m, shardSize: Math.ceil(options.unlabeled / 2) },
    evaluation: { ...base.evaluation, shardSize: options.eval },
    training: { ...base.training, steps: options.steps, checkpointEvery: 10 },
    artifacts: { dir: path.join(cluster.root, label, 'client'), s3: s3Config },
  });
  const store = createArtifactStore(config.artifacts);
  const roundOne = roundWorkflowId(config.name, 1);
  let incarnation = 0;
  const start = (host: Host, role: Role, identity: string) =>
    startHostWorker({
      host,
      role,
      identity,
      temporal: cluster.temporal,
      queues: config.temporal.taskQueues,
      s3: { ...s3Config, clientEnv: s3.clientEnv },
      cacheDir: path.join(cluster.root, label, host.name, 'cache'),
      threads: 1,
      logFile: path.join(cluster.root, label, `${identity.replace(/[^\w.-]/g, '_')}-${++incarnation}.log`),
    }).then((w) => {
      cluster.workers.push(w);
      cluster.log(`${label}: ${identity} (${role}) polls from ${host.netns}, pid ${w.pid}`);
      return w;
    });
  const workers = await Promise.all([
    start(cluster.light, 'light', cluster.light.name),
    ...cluster.accelerators.map((h) => start(h, 'accelerator', h.name)),
  ]);

  const started = Date.now();
  const since = (t = Date.now()) => Math.round((t - started) / 100) / 10;
  const handle = await startCampaign(client, config, { store });
  let done = false;
  const result = handle.result().finally(() => (done = true));
  result.catch(() => undefined);
  cluster.log(`${label}: campaign ${config.name} started`);

  const faults: FaultRecord[] = [];
  if (options.inject) {
    // 1. An accelerator host cut off in the middle of a sampling shard (it has persisted a question).
    const sampling = await waitUntil(
      () => runningActivities(client, roundOne),
      (list) =>
        list.find((a) => a.type === 'samplePaths' && questionsDone(a) >= 1 && onAccelerator(cluster, a)),
      'a sampling shard on an accelerator host to persist a question',
      () => done,
    );
    faults.push(await cutHost(cluster, roundOne, sampling, 'cut-host-mid-sampling', since));
    const first = faults[0];
    const host = hostOf(cluster, sampling.identity);
    // The host comes back (a rebooted machine rejoining): with two accelerator hosts, the second cut
    // would otherwise leave none, and the campaign would wait for a host forever.
    await reconnect(host, [cluster.temporal.port, s3.port]);
    first.restartedAs = `${host.name}#2`;
    workers.push(await start(host, 'accelerator', first.restartedAs));

    // 2. The host that fine-tunes cut off once training has stored a checkpoint; it stays away.
    const training = await waitUntil(
      () => runningActivities(client, roundOne),
      (list) =>
        list.find(
          (a) =>
            a.type === 'fineTune' &&
            typeof (a.details as { checkpointRef?: string } | undefined)?.checkpointRef === 'string' &&
            onAccelerator(cluster, a),
        ),
      'fine-tuning on an accelerator host to store a checkpoint',
      () => done,
    );
    faults.push(await cutHost(cluster, roundOne, training, 'cut-host-mid-training', since));
    faults[1].restartedAs = null;

    // 3. The S3 server killed and started again once the round's evaluation has started: the shard
    // still has to fetch the fine-tuned model (unless its host trained it), append its questions and
    // seal them, all through S3 (a shard of this size can finish between two throttled heartbeats,
    // so the trigger is the start, not a persisted question).
    const evaluating = await waitUntil(
      () => runningActivities(client, roundOne),
      (list) => list.find((a) => a.type === 'evaluateShard'),
      'the round-1 evaluation to start',
      () => done,
    );
    const at = Date.now();
    await s3.kill();
    cluster.log(`${label}: S3 server killed at ${since(at)} s`);
    const runningThen = (await runningActivities(client, roundOne)).map(running);
    await s3.start();
    faults.push({
      fault: 'restart-s3-mid-round',
      atSeconds: since(at),
      running: runningThen,
      victim: running(evaluating),
      s3DownSeconds: Math.round((Date.now() - at) / 100) / 10,
    });
    cluster.log(`${label}: S3 server back after ${faults[2].s3DownSeconds} s`);
  }

  await result;
  const wallSeconds = since();
  cluster.log(`${label}: campaign done in ${wallSeconds} s`);
  for (const w of workers) await w.kill();

  const rounds = (await finishedRounds(client, config.name, { store })).map((r) => r.result);
  const roundIds = rounds.map((r) => roundWorkflowId(config.name, r.round));
  // Activity ids are per workflow: the victims were all round 1's.
  const attempts = await activityAttempts(client, roundOne);
  for (const f of faults) {
    if (!f.victim) continue;
    const a = attempts.find(
      (x) => x.activityId === f.victim!.activityId && x.type === f.victim!.type && x.completed,
    );
    f.finishedBy = a ? { identity: a.identity, attempt: a.attempt } : null;
  }
  return {
    label,
    campaignId: config.name,
    s3Prefix: label,
    wallSeconds,
    faults,
    tally: await tallyCampaign(store, rounds, config.sampling.m),
    leftoverDraftObjects: await draftObjects(store as S3ArtifactStore),
    completedBy: await completedBy(client, [config.name, ...roundIds]),
    resumed: resumedWork(rounds),
  };
}

function resumedWork(rounds: RoundResult[]): CampaignRun['resumed'] {
  return {
    samplingShards: rounds.flatMap((r) => r.sampling?.shards ?? []).filter((s) => s.resumedQuestions > 0)
      .length,
    evaluationShards: rounds.flatMap((r) => r.evaluation.shards).filter((s) => s.resumedQuestions > 0).length,
    trainingFromStep: rounds.flatMap((r) => (r.training ? [r.training.resumedFromStep] : [])),
  };
}

const questionsDone = (a: StartedActivityDetails) => (a.details as { done?: number } | undefined)?.done ?? 0;

function running(a: StartedActivityDetails): RunningActivity {
  const d = a.details as { done?: number; step?: number; progress?: { step: number } } | undefined;
  return {
    type: a.type,
    activityId: a.activityId,
    attempt: a.attempt,
    identity: a.identity,
    progress:
      d?.done !== undefined
        ? { questionsDone: d.done }
        : d?.progress
          ? { step: d.progress.step, checkpointStep: d.step ?? null }
          : null,
  };
}

function hostOf(cluster: Cluster, identity: string): Host {
  const name = identity.split('#')[0];
  const host = cluster.accelerators.find((h) => h.name === name);
  if (!host) throw new Error(`no accelerator host for worker identity ${identity}`);
  return host;
}

function onAccelerator(cluster: Cluster, a: StartedActivityDetails): boolean {
  const host = cluster.accelerators.find((h) => h.name === a.identity.split('#')[0]);
  // Only a host whose worker still lives can be cut (a cut host's last attempt may still show).
  return host !== undefined && cluster.workers.some((w) => w.identity === a.identity && w.alive());
}

/**
 * Pulls the cable of the host that runs `victim`, waits until Temporal itself gives up on that
 * attempt (its heartbeat timeout: the next attempt is scheduled, or the activity is no longer
 * pending), then SIGKILLs the host's worker, as an operator would fence a host that stopped answering.
 */
async function cutHost(
  cluster: Cluster,
  workflowId: string,
  victim: StartedActivityDetails,
  fault: FaultRecord['fault'],
  since: (t?: number) => number,
): Promise<FaultRecord> {
  const host = hostOf(cluster, victim.identity);
  const worker = cluster.workers.find((w) => w.identity === victim.identity && w.alive())!;
  const at = Date.now();
  cut(host);
  // What else ran at that moment, as the server still sees it (the victim's record is the probe's).
  const runningThen = (await runningActivities(cluster.client, workflowId)).map(running);
  cluster.log(
    `${fault}: ${host.name} cut off at ${since(at)} s while it ran ${victim.type} ${victim.activityId}`,
  );
  await waitUntil(
    () => pendingAttempt(cluster.client, workflowId, victim),
    (p) => (p === null || p.attempt > victim.attempt || !p.started ? true : undefined),
    `Temporal to time out ${victim.type} ${victim.activityId} on ${host.name}`,
    () => false,
  );
  const moved = Date.now();
  await worker.kill();
  cluster.log(
    `${fault}: Temporal moved it after ${((moved - at) / 1000).toFixed(1)} s; ${worker.identity} SIGKILLed`,
  );
  return {
    fault,
    atSeconds: since(at),
    running: runningThen,
    host: host.name,
    victim: running(victim),
    serverMovedItAfterSeconds: Math.round((moved - at) / 100) / 10,
    killedAfterSeconds: Math.round((Date.now() - at) / 100) / 10,
  };
}

/** The victim activity's pending state in its round workflow (null once it is no longer pending). */
async function pendingAttempt(
  client: Client,
  workflowId: string,
  victim: StartedActivityDetails,
): Promise<{ attempt: number; started: boolean } | null> {
  const d = await client.workflow.getHandle(workflowId).describe();
  const p = (d.raw.pendingActivities ?? []).find((x) => x.activityId === victim.activityId);
  return p ? { attempt: p.attempt ?? 0, started: p.state === State.PENDING_ACTIVITY_STATE_STARTED } : null;
}

async function waitUntil<T, R>(
  probe: () => Promise<T>,
  found: (v: T) => R | undefined,
  what: string,
  finished: () => boolean,
): Promise<R> {
  for (;;) {
    const hit = found(await probe());
    if (hit !== undefined) return hit;
    if (finished()) throw new Error(`the campaign finished before ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function draftObjects(store: S3ArtifactStore): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const page = await store.client.send(
      new ListObjectsV2Command({
        Bucket: store.config.bucket,
        Prefix: `${store.config.prefix}/drafts/`,
        ContinuationToken: token,
      }),
    );
    count += page.KeyCount ?? 0;
    token = page.NextContinuationToken;
  } while (token);
  return count;
}
