/**
 * The demo: an embedded model improves itself on its own majority-voted answers, through the real
 * Temporal workflows, on a laptop CPU.
 *
 *   npm run demo [-- --quick] [--hold] [--seed N] [--m N] [--rounds N] [--ui-port N] [--out FILE]
 *
 * Installs the Temporal CLI if missing, starts its own dev server (Web UI on), in-process workers,
 * builds (or reuses) the base model under tmp/demo-models, runs a campaign, prints a table per round
 * and writes the numbers to bench/results/demo-last.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { SingleBar, Presets } from 'cli-progress';
import { finishedRounds, startCampaign } from '../client';
import { statusTable, watchCampaign } from '../cli/campaign-commands';
import { createLmsiWorker } from '../workers';
import { lmsiSearchAttributeKeys } from '../workflows/search-attributes';
import { buildArithBaseModel, type ArithBaseModel, type ArithRecipe } from './arith-base-model';
import { demoCampaignConfig, parseDemoArgs, type DemoOptions } from './options';
import { demoResults, resultsTable, writeResults, type DemoSeedResult } from './results';
import { DEMO_RECIPE, QUICK_RECIPE } from './recipe';

const ROOT = path.resolve(__dirname, '..');

function ensureTemporalCli(): string {
  const bin = path.join(ROOT, '.tools/bin/temporal');
  if (existsSync(bin)) return bin;
  process.stdout.write('Temporal CLI missing: building it into .tools/bin (a few minutes the first time)\n');
  const r = spawnSync('bash', [path.join(ROOT, 'infra/temporal/install')], { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(bin)) throw new Error('infra/temporal/install failed');
  return bin;
}

async function baseModel(recipe: ArithRecipe): Promise<ArithBaseModel> {
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

async function runSeed(
  env: TestWorkflowEnvironment,
  connection: NativeConnection,
  base: ArithBaseModel,
  options: DemoOptions,
  seed: number,
): Promise<DemoSeedResult> {
  const work = path.join(ROOT, 'tmp', 'demo-runs', `${Date.now()}-${seed}`);
  const config = demoCampaignConfig(base, options, seed, path.join(work, 'artifacts'));
  const common = { connection, artifactsDir: config.artifacts.dir, threads: os.cpus().length };
  const workers = await Promise.all([
    createLmsiWorker({ ...common, role: 'light', taskQueue: config.temporal.taskQueues.light }),
    createLmsiWorker({ ...common, role: 'accelerator', taskQueue: config.temporal.taskQueues.accelerator }),
  ]);
  const running = workers.map((w) => w.run());
  try {
    const handle = await startCampaign(env.client, config);
    process.stdout.write(`campaign ${handle.workflowId} started (seed ${seed})\n`);
    const final = await watchCampaign(env.client, handle.workflowId);
    process.stdout.write(`${statusTable(final)}\n`);
    if (final.state !== 'completed') throw new Error(`campaign ${handle.workflowId} ended ${final.state}`);
  } finally {
    workers.forEach((w) => w.shutdown());
    await Promise.all(running);
  }
  const rounds = await finishedRounds(env.client, config.name);
  return {
    seed,
    campaignId: config.name,
    artifactsDir: config.artifacts.dir,
    rounds: rounds.map(({ summary }) => ({
      round: summary.round,
      greedyAccuracy: summary.greedyAccuracy,
      scAccuracy: summary.scAccuracy,
      keptPaths: summary.keptPaths,
      meanKeptConfidence: summary.meanKeptConfidence,
      promoted: summary.promoted,
      wallSeconds: summary.wallSeconds,
    })),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const options = parseDemoArgs(process.argv.slice(2));
  const recipe = options.quick ? QUICK_RECIPE : DEMO_RECIPE;
  const temporalBin = ensureTemporalCli();
  const base = await baseModel(recipe);

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalBin },
      ip: '127.0.0.1',
      ui: true,
      uiPort: options.uiPort,
      searchAttributes: lmsiSearchAttributeKeys,
    },
  });
  process.stdout.write(`Temporal dev server at ${env.address}; Web UI: http://127.0.0.1:${options.uiPort}\n`);
  const connection = await NativeConnection.connect({ address: env.address });
  try {
    const seeds: DemoSeedResult[] = [];
    for (const seed of options.seeds) seeds.push(await runSeed(env, connection, base, options, seed));
    const results = demoResults(recipe, base, options, seeds, (Date.now() - started) / 1000);
    process.stdout.write(`\n${resultsTable(results)}\n`);
    const file = writeResults(path.resolve(ROOT, options.out), results);
    process.stdout.write(`\nresults: ${path.relative(ROOT, file)}\n`);
    for (const s of seeds) process.stdout.write(`artifacts (seed ${s.seed}): ${s.artifactsDir}\n`);
    process.stdout.write(`Web UI (until this process exits): http://127.0.0.1:${options.uiPort}\n`);
    if (options.hold) {
      process.stdout.write('holding the dev server for the Web UI; Ctrl-C to stop\n');
      await new Promise((resolve) => process.once('SIGINT', resolve));
    }
  } finally {
    await connection.close();
    await env.teardown();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
