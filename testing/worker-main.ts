// A worker process for fault-injection tests and the soak bench: both roles in one process, so a
// SIGKILL takes the workflow worker and the model worker down together, as on a crashed machine.
// Started by ./worker-process.ts with its options as one JSON argument.
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createLmsiWorker } from '../workers';

interface Options {
  address: string;
  lightQueue: string;
  acceleratorQueue: string;
  artifactsDir: string;
  /** A workflow bundle written by the parent (bundling in every child would cost seconds each). */
  workflowCodePath: string;
  threads: number;
  logLevel?: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2]) as Options;
  Runtime.install({ logger: new DefaultLogger(options.logLevel ?? 'WARN') });
  const connection = await NativeConnection.connect({ address: options.address });
  // Heartbeats reach the server within 200 ms, so a test sees each shard's and training's cursor move.
  const common = {
    connection,
    artifactsDir: options.artifactsDir,
    threads: options.threads,
    maxHeartbeatThrottleMs: 200,
  };
  const workers = await Promise.all([
    createLmsiWorker({
      ...common,
      role: 'light',
      taskQueue: options.lightQueue,
      workflowBundle: { codePath: options.workflowCodePath },
    }),
    createLmsiWorker({ ...common, role: 'accelerator', taskQueue: options.acceleratorQueue }),
  ]);
  process.stdout.write(`ready ${process.pid}\n`);
  await Promise.all(workers.map((w) => w.run()));
  await connection.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`worker failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
