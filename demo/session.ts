import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { SingleBar, Presets } from 'cli-progress';
import { finishedRounds, roundStepSeconds, startCampaign } from '../client';
import { statusTable, watchCampaign } from '../cli/status-view';
import { LocalArtifactStore } from '../store';
import { createLmsiWorker } from '../workers';
import { lmsiSearchAttributeKeys } from '../workflows/search-attributes';
import { buildArithBaseModel, type ArithBaseModel, type ArithRecipe } from '../embedded';
import { demoCampaignConfig, type DemoOptions } from './options';
import { withPool } from './pool';
import type { DemoSeedResult } from './results';

/**
 * What the demo and the ablation benchmark share: the Temporal CLI, the cached base model, a dev
 * server with its Web UI, and one campaign run through in-process workers.
 */

export const ROOT = path.resolve(__dirname, '..');

export function ensureTemporalCli(): string {
  const bin = path.join(ROOT, '.tools/bin/temporal');
  if (existsSync(bin)) return bin;
  process.stdout.write('Temporal CLI missing: building it into .tools/bin (a few minutes the first time)\n');
  const r = spawnSync('bash', [path.join(ROOT, 'infra/temporal/install')], { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(bin)) throw new Error('infra/temporal/install failed');
  return bin;
}

export async function baseModel(recipe: ArithRecipe): Promise<ArithBaseModel> {
  const cacheRoot = path.join(ROOT, 'tmp', 'demo-models');
  const cached = existsSync(path.join(cacheRoot, recipe.name, '.complete'));
  if (cached) return buildArithBaseModel(cacheRoot, recipe);
  process.stdout.write(`building the base model ${recipe.name} (cached in ${cacheRoot})\n`);
  const bar = new SingleBar(
    { format: ' base model |{bar}| {value}/{total} steps, loss {loss}, {tps} tok/s', noTTYOutput: true },
    Presets.shades_classic,
  );
  let started = false;
  try {
    return await buildArithBaseModel(cacheRoot, recipe, (p) => {
      const payload = { loss: p.loss.toFixed(3), tps: Math.round(p.tokensPerSec) };
      if (!started) {
        bar.start(p.totalSteps, p.step, payload);
        started = true;
      } else bar.update(p.step, payload);
    });
  } finally {
    if (started) bar.stop();
  }
}

/** The cached base model, with the rounds' unlabeled pool of `options.pool` questions when given. */
export async function demoBase(
  recipe: ArithRecipe,
  options: Pick<DemoOptions, 'pool'>,
): Promise<ArithBaseModel> {
  const base = await baseModel(recipe);
  if (options.pool === undefined) return base;
  return withPool(base, { seed: `${recipe.name}/pool`, size: options.pool, knobs: recipe.knobs });
}

export interface DemoServer {
  env: TestWorkflowEnvironment;
  connection: NativeConnection;
  close(): Promise<void>;
}

/**
 * Calls `start` until it succeeds, at most `attempts` times, retrying only startup timeouts. The SDK
 * gives the dev server a fixed 5 s to answer and kills it when it does not; on a loaded 2-core
 * machine (a CI run beside the demo) that was seen to fail a demo before it began.
 */
export async function retryServerStartup<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= attempts || !/did not start within/.test(String(err))) throw err;
      console.warn(
        `the Temporal dev server did not answer in time (attempt ${attempt} of ${attempts}); retrying`,
      );
    }
  }
}

export async function startDemoServer(temporalBin: string, uiPort: number): Promise<DemoServer> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = await retryServerStartup(() =>
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalBin },
        ip: '127.0.0.1',
        ui: true,
        uiPort,
        searchAttributes: lmsiSearchAttributeKeys,
      },
    }),
  );
  const connection = await NativeConnection.connect({ address: env.address });
  return {
    env,
    connection,
    async close() {
      await connection.close();
      await env.teardown();
    },
  };
}

/** One campaign (one seed) through a light and an accelerator worker started in this process. */
export async function runSeed(
  server: DemoServer,
  base: ArithBaseModel,
  options: DemoOptions,
  seed: number,
  label = 'demo',
): Promise<DemoSeedResult> {
  const { env, connection } = server;
  const work = path.join(ROOT, 'tmp', 'demo-runs', `${Date.now()}-${label}-${seed}`);
  const config = demoCampaignConfig(base, options, seed, path.join(work, 'artifacts'), label);
  const threads = os.cpus().length;
  // Training takes every core; sampling shards run one per accelerator worker, each on its share.
  const samplingThreads = Math.max(1, Math.floor(threads / options.workers));
  const common = { connection, artifactsDir: config.artifacts.dir, threads, samplingThreads };
  const workers = await Promise.all([
    createLmsiWorker({ ...common, role: 'light', taskQueue: config.temporal.taskQueues.light }),
    createLmsiWorker({ ...common, role: 'accelerator', taskQueue: config.temporal.taskQueues.accelerator }),
  ]);
  const extra = Array.from({ length: options.workers - 1 }, (_, i) =>
    startWorkerProcess({
      address: env.address,
      taskQueue: config.temporal.taskQueues.accelerator,
      artifactsDir: config.artifacts.dir,
      threads,
      samplingThreads,
      log: path.join(work, `accelerator-worker-${i + 2}.log`),
    }),
  );
  const running = workers.map((w) => w.run());
  let reportHtml: string | null = null;
  let stopped: DemoSeedResult['stopped'];
  try {
    const handle = await startCampaign(env.client, config);
    process.stdout.write(`campaign ${handle.workflowId} started (seed ${seed})\n`);
    const final = await watchCampaign(env.client, handle.workflowId);
    process.stdout.write(`${statusTable(final)}\n`);
    if (final.state !== 'completed') throw new Error(`campaign ${handle.workflowId} ended ${final.state}`);
    stopped = final.stopped;
    if (final.report) {
      // The report the campaign stored, as files a browser opens (report.html: every chart and table).
      const store = new LocalArtifactStore(config.artifacts.dir);
      await store.materializeTree(final.report.treeRef, path.join(work, 'report'));
      reportHtml = path.join(work, 'report', 'report.html');
    }
  } finally {
    workers.forEach((w) => w.shutdown());
    await Promise.all([...running, ...extra.map((w) => w.stop())]);
  }
  const rounds = await finishedRounds(env.client, config.name, {
    store: new LocalArtifactStore(config.artifacts.dir),
  });
  return {
    seed,
    campaignId: config.name,
    artifactsDir: config.artifacts.dir,
    reportHtml,
    rounds: await Promise.all(
      rounds.map(async ({ summary, result }) => ({
        round: summary.round,
        greedyAccuracy: summary.greedyAccuracy,
        scAccuracy: summary.scAccuracy,
        keptPaths: summary.keptPaths,
        meanKeptConfidence: summary.meanKeptConfidence,
        promoted: summary.promoted,
        wallSeconds: summary.wallSeconds,
        stepSeconds: await roundStepSeconds(env.client, config.name, summary.round),
        trainingSteps: result.training?.trained ? result.training.steps : null,
        calibration: result.evaluation.summary.calibration.bins.flatMap((b) =>
          b.accuracy === null ? [] : [{ lo: b.lo, hi: b.hi, questions: b.count, accuracy: b.accuracy }],
        ),
        ...(summary.health ? { health: summary.health } : {}),
      })),
    ),
    ...(stopped ? { stopped } : {}),
  };
}

/**
 * One more accelerator worker, as a child process running `lmsi worker` (onnxruntime runs on the
 * calling thread, so a second worker in this process would not use a second core). Its output goes
 * to `log`; it is stopped by SIGTERM (running activities are cancelled and flush), and killed when
 * the demo exits without stopping it (an error, or a signal: demo/run.ts turns those into an exit).
 * Ctrl-C in a terminal reaches it directly too (same process group): its runtime shuts it down.
 */
function startWorkerProcess(o: {
  address: string;
  taskQueue: string;
  artifactsDir: string;
  threads: number;
  samplingThreads: number;
  log: string;
}): { stop(): Promise<void> } {
  mkdirSync(path.dirname(o.log), { recursive: true });
  const out = openSync(o.log, 'a');
  const args = [
    path.join(ROOT, 'cli', 'main.ts'),
    'worker',
    ...['--queues', 'accelerator', '--accelerator-queue', o.taskQueue],
    ...['--address', o.address, '--namespace', 'default', '--artifacts', o.artifactsDir],
    ...['--threads', String(o.threads), '--sampling-threads', String(o.samplingThreads)],
  ];
  // node with tsx's loader, not the tsx command: that runs the worker in a second node process,
  // which a SIGKILL of tsx alone would leave running (seen: a killed demo left a worker training).
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    stdio: ['ignore', out, out],
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM' && code !== null)
      process.stderr.write(`accelerator worker process exited ${code}: see ${o.log}\n`);
  });
  return {
    async stop() {
      process.removeListener('exit', kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
