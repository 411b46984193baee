import * as path from 'node:path';
import type { Command } from 'commander';
import { connectWorkerConnection, snapshotDataset } from '../client';
import { loadCampaignConfig } from '../config';
import { createArtifactStore } from '../store/factory';
import { S3StoreConfig } from '../store/s3-config';
import type { BadLinePolicy, TaskName } from '../method/types';
import type { WorkerRole } from '../workers';
import { withClient, withTemporalOptions, type TemporalOptions } from './temporal-options';

export function registerWorkerCommands(program: Command): void {
  withTemporalOptions(
    program
      .command('worker')
      .description(
        'run lmsi workers until interrupted (SIGINT/SIGTERM cancel running activities, which flush)',
      )
      .option('-c, --config <file>', 'campaign config: task queue names, artifact dir, Temporal target')
      .option(
        '--queues <roles>',
        'light (workflows, voting, formatting), accelerator (sampling, training, evaluation), or both',
        'light,accelerator',
      )
      .option('--light-queue <name>', 'light task queue name', 'lmsi-light')
      .option('--accelerator-queue <name>', 'accelerator task queue name', 'lmsi-accelerator')
      .option(
        '--artifacts <dir>',
        "artifact store root (shared by all workers of a campaign); with --s3-bucket, this machine's cache",
        '.state/artifacts',
      )
      .option(
        '--s3-bucket <name>',
        'keep the artifacts in this S3 bucket (credentials: the AWS environment/profile)',
      )
      .option('--s3-endpoint <url>', 'S3-compatible service URL (default: AWS for --s3-region)')
      .option('--s3-prefix <prefix>', 'key prefix of the store in the bucket')
      .option('--s3-region <region>', 'S3 region')
      .option('--s3-force-path-style', 'path-style URLs (most self-hosted S3 servers)')
      .option('--identity <name>', 'the name lmsi status shows for this worker (default: <pid>@<hostname>)')
      .option('--threads <n>', 'onnxruntime threads for model activities', (v) => Number.parseInt(v, 10))
      .option(
        '--sampling-threads <n>',
        'onnxruntime threads for sampling and evaluation (default: --threads); on CPU, one worker per core at 1 samples fastest',
        (v) => Number.parseInt(v, 10),
      ),
  ).action(
    async (
      opts: TemporalOptions & {
        config?: string;
        queues: string;
        lightQueue: string;
        acceleratorQueue: string;
        artifacts: string;
        threads?: number;
        samplingThreads?: number;
        s3Bucket?: string;
        s3Endpoint?: string;
        s3Prefix?: string;
        s3Region?: string;
        s3ForcePathStyle?: boolean;
        identity?: string;
      },
    ) => {
      const config = opts.config ? loadCampaignConfig(opts.config) : undefined;
      const roles = opts.queues.split(',').map((r) => r.trim()) as WorkerRole[];
      for (const role of roles) {
        if (role !== 'light' && role !== 'accelerator') throw new Error(`--queues: unknown role "${role}"`);
      }
      const { connection, namespace } = await connectWorkerConnection({
        address: opts.address ?? config?.temporal.address,
        namespace: opts.namespace ?? config?.temporal.namespace,
        profile: opts.profile,
      });
      const queues = {
        light: config?.temporal.taskQueues.light ?? opts.lightQueue,
        accelerator: config?.temporal.taskQueues.accelerator ?? opts.acceleratorQueue,
      };
      const artifactsDir = config
        ? path.resolve(path.dirname(opts.config!), config.artifacts.dir)
        : opts.artifacts;
      // The flags name the bucket when no config does; the config's artifacts.s3 otherwise.
      const s3 = opts.s3Bucket
        ? S3StoreConfig.parse({
            bucket: opts.s3Bucket,
            ...(opts.s3Endpoint === undefined ? {} : { endpoint: opts.s3Endpoint }),
            ...(opts.s3Prefix === undefined ? {} : { prefix: opts.s3Prefix }),
            ...(opts.s3Region === undefined ? {} : { region: opts.s3Region }),
            forcePathStyle: opts.s3ForcePathStyle ?? false,
          })
        : config?.artifacts.s3;
      const store = s3
        ? createArtifactStore({ dir: artifactsDir, s3 })
        : undefined;
      // Loaded here, not at the top: it pulls in onnxruntime, which other commands do not need.
      const { createLmsiWorker } = await import('../workers');
      const workers = await Promise.all(
        roles.map((role) =>
          createLmsiWorker({
            connection,
            namespace,
            role,
            taskQueue: queues[role],
            artifactsDir,
            ...(store ? { store } : {}),
            // One process may run both roles: each gets its own name, so status tells them apart.
            ...(opts.identity === undefined
              ? {}
              : { identity: roles.length > 1 ? `${opts.identity}/${role}` : opts.identity }),
            threads: opts.threads,
            samplingThreads: opts.samplingThreads,
          }),
        ),
      );
      process.stderr.write(
        `lmsi worker: ${roles.map((r) => `${r} on ${queues[r]}`).join(', ')} (namespace ${namespace}, artifacts ${s3 ? `s3://${s3.bucket}/${s3.prefix} (cache ${path.resolve(artifactsDir)})` : path.resolve(artifactsDir)})\n`,
      );
      await Promise.all(workers.map((w) => w.run()));
      await connection.close();
    },
  );

  withTemporalOptions(
    program
      .command('snapshot')
      .description('snapshot a questions file into the artifact store (a workflow) and print its ref')
      .requiredOption('-t, --task <name>', 'task: gsm8k | drop | openbookqa | arc | anli | arith | custom')
      .requiredOption('-f, --file <path>', 'questions file')
      .option('-q, --task-queue <name>', 'light task queue of a running worker', 'lmsi-light')
      .option('--skip-bad-lines', 'skip malformed lines and report them instead of failing'),
  ).action(
    async (
      opts: TemporalOptions & { task: string; file: string; taskQueue: string; skipBadLines?: boolean },
    ) => {
      const file = path.resolve(opts.file);
      const policy: BadLinePolicy = opts.skipBadLines ? 'skip-and-report' : 'fail-fast';
      await withClient(opts, async (client) => {
        const result = await snapshotDataset(
          client,
          { task: opts.task as TaskName, file, policy },
          { taskQueue: opts.taskQueue, workflowId: `snapshot/${path.basename(file)}/${Date.now()}` },
        );
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      });
    },
  );
}
