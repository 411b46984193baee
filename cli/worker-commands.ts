import * as path from 'node:path';
import type { Command } from 'commander';
import { connectClient, connectWorkerConnection, snapshotDataset } from '../client';
import { loadCampaignConfig } from '../config';
import type { BadLinePolicy, TaskName } from '../method/types';
import { createLmsiWorker } from '../workers';

interface TemporalOptions {
  address?: string;
  namespace?: string;
  profile?: string;
}

function addTemporalOptions(cmd: Command): Command {
  return cmd
    .option(
      '--address <host:port>',
      'Temporal frontend (default: environment configuration, else localhost:7233)',
    )
    .option('--namespace <ns>', 'Temporal namespace (default: environment configuration, else "default")')
    .option('--profile <name>', 'temporal.toml profile');
}

export function registerWorkerCommands(program: Command): void {
  addTemporalOptions(
    program
      .command('worker')
      .description('run a worker that polls an lmsi task queue until interrupted (Ctrl-C drains it)')
      .option('-c, --config <file>', 'campaign config: task queues, artifact dir, Temporal target')
      .option('-q, --task-queue <name>', 'task queue to poll', 'lmsi-light')
      .option('--artifacts <dir>', 'artifact store root', '.state/artifacts'),
  ).action(async (opts: TemporalOptions & { config?: string; taskQueue: string; artifacts: string }) => {
    const config = opts.config ? loadCampaignConfig(opts.config) : undefined;
    const target = {
      address: opts.address ?? config?.temporal.address,
      namespace: opts.namespace ?? config?.temporal.namespace,
      profile: opts.profile,
    };
    const { connection, namespace } = await connectWorkerConnection(target);
    const worker = await createLmsiWorker({
      connection,
      namespace,
      taskQueue: opts.taskQueue,
      artifactsDir: config?.artifacts.dir ?? opts.artifacts,
    });
    process.stderr.write(`lmsi worker polling ${opts.taskQueue} on namespace ${namespace}\n`);
    await worker.run();
    await connection.close();
  });

  addTemporalOptions(
    program
      .command('snapshot')
      .description('snapshot a questions file into the artifact store (a workflow) and print its ref')
      .requiredOption('-t, --task <name>', 'task: gsm8k | drop | openbookqa | arc | anli | arith | custom')
      .requiredOption('-f, --file <path>', 'questions file')
      .option('-q, --task-queue <name>', 'task queue of a running worker', 'lmsi-light')
      .option('--skip-bad-lines', 'skip malformed lines and report them instead of failing'),
  ).action(
    async (
      opts: TemporalOptions & { task: string; file: string; taskQueue: string; skipBadLines?: boolean },
    ) => {
      const client = await connectClient(opts);
      const file = path.resolve(opts.file);
      const policy: BadLinePolicy = opts.skipBadLines ? 'skip-and-report' : 'fail-fast';
      const result = await snapshotDataset(
        client,
        { task: opts.task as TaskName, file, policy },
        { taskQueue: opts.taskQueue, workflowId: `snapshot/${path.basename(file)}/${Date.now()}` },
      );
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      await client.connection.close();
    },
  );
}
