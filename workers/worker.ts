import * as path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { lmsiDataConverter } from '../client/codec';
import { createAcceleratorActivities, createLightActivities, type ActivityDeps } from '../activities';
import { LocalArtifactStore, type ArtifactStore } from '../store';

export type WorkerRole = 'light' | 'accelerator';

export interface LmsiWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  /**
   * light: the workflows and the light activities (files, voting, formatting, scoring).
   * accelerator: the model activities (sampling, evaluation, fine-tuning): run these on GPU machines.
   */
  role: WorkerRole;
  taskQueue: string;
  /** Root of the artifact store shared by every worker of a campaign. */
  artifactsDir: string;
  /** The store itself (default: a LocalArtifactStore at artifactsDir); tests inject faults here. */
  store?: ArtifactStore;
  /** Local unpacked models and training scratch (default: <artifactsDir>/cache). */
  cacheDir?: string;
  /** onnxruntime intra-op threads for model activities (default: every core). */
  threads?: number;
  /** onnxruntime threads for sampling and evaluation (default: `threads`); see ActivityDeps. */
  samplingThreads?: number;
  /**
   * Pre-built workflow bundle (tests build one per file); otherwise bundled from workflows/ with the
   * data converter's failureConverterPath. With a codec, build it with that path too (client/README.md).
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Default: 1 for accelerator (one model job per machine), 8 for light. */
  maxConcurrentActivityTaskExecutions?: number;
  /**
   * Upper bound on how long heartbeats are held back before reaching the server. Default 10 s (the
   * SDK's would be 60 s with lmsi's 120 s heartbeat timeout): `lmsi status` and the demo's progress
   * bar show training steps from the heartbeat, and one small RPC per activity every 10 s costs
   * nothing next to a training step. Lower it where someone watches the cursors closely: tests, soak.
   */
  maxHeartbeatThrottleMs?: number;
  /** Default: payload encryption when a codec key is configured (client/codec.ts), else none. */
  dataConverter?: DataConverter;
  /**
   * The name Temporal records for this worker (`lmsi status` shows it beside each running activity).
   * Default: the SDK's, `<pid>@<hostname>`.
   */
  identity?: string;
}

/** The workflows folder, as source (tests, tsx) or compiled (dist). */
export const workflowsPath = require.resolve('../workflows');

export function activityDeps(
  options: Pick<LmsiWorkerOptions, 'artifactsDir' | 'cacheDir' | 'threads' | 'samplingThreads' | 'store'>,
): ActivityDeps {
  const artifactsDir = path.resolve(options.artifactsDir);
  return {
    store: options.store ?? new LocalArtifactStore(artifactsDir),
    cacheDir: path.resolve(options.cacheDir ?? path.join(artifactsDir, 'cache')),
    threads: options.threads,
    samplingThreads: options.samplingThreads,
  };
}

export async function createLmsiWorker(options: LmsiWorkerOptions): Promise<Worker> {
  const deps = activityDeps(options);
  const common = {
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    dataConverter: options.dataConverter ?? lmsiDataConverter(),
    maxHeartbeatThrottleInterval: options.maxHeartbeatThrottleMs ?? 10_000,
    ...(options.identity === undefined ? {} : { identity: options.identity }),
  };
  if (options.role === 'accelerator') {
    return Worker.create({
      ...common,
      activities: createAcceleratorActivities(deps),
      maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 1,
    });
  }
  return Worker.create({
    ...common,
    activities: createLightActivities(deps),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 8,
  });
}
