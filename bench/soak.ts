/**
 * npm run bench:soak — a campaign of many rounds on the cached tiny model, with its worker process
 * SIGKILLed at seeded random moments and restarted each time. Reports rounds completed, kills
 * survived, duplicate / missing questions in every round's samples (must be 0), and the history size
 * of every run, and writes bench/results/soak.json.
 *
 *   --rounds=N (10)  --seed=S (1)  --kill-min=SEC (4)  --kill-max=SEC (20)
 * Kills wait while a light activity runs: those do not heartbeat, and a killed attempt would sit out
 * the LIGHT preset's 30-minute start-to-close timeout (counted as killsDeferredWhileLightActivityRan).
 *
 *   --unlabeled=N (16)  --eval=N (8)  --out=FILE (bench/results/soak.json)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { finishedRounds, startCampaign } from '../client';
import { LocalArtifactStore } from '../store';
import { deriveSeed, Rng } from '../base/rng';
import { pretrainedTinyModel } from '../testing/tiny-model';
import { devServer } from '../testing/dev-server';
import { datasetIds, faultCampaignConfig, sampledQuestionIds, smallSplits } from '../testing/fault-campaign';
import { startWorkerProcess, writeWorkflowBundle, type WorkerProcess } from '../testing/worker-process';
import { numberArg, stringArg } from './args';
import { machine } from './machine';

const ROUNDS = numberArg('rounds', 10);
const SEED = numberArg('seed', 1);
const KILL_MIN = numberArg('kill-min', 4);
const KILL_MAX = numberArg('kill-max', 20);
/** Model activities: they heartbeat, so a killed worker's attempt moves on after the heartbeat timeout. */
const HEARTBEATING = new Set([
  'samplePaths',
  'evaluateShard',
  'fineTune',
  'generateExemplars',
  'generateQuestions',
]);
const OUT = path.resolve(stringArg('out', 'bench/results/soak.json'));

async function main(): Promise<void> {
  const started = Date.now();
  const base = await pretrainedTinyModel();
  const root = await mkdtemp(path.join(os.tmpdir(), 'lmsi-soak-'));
  const dataDir = await smallSplits(base, path.join(root, 'data'), {
    unlabeled: numberArg('unlabeled', 16),
    eval: numberArg('eval', 8),
  });
  const config = {
    ...faultCampaignConfig(dataDir, base.modelDir, `soak-${SEED}`, path.join(root, 'artifacts')),
    rounds: ROUNDS,
  };
  const server = await devServer(path.join(root, 'server'));
  await server.start();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const bundle = await writeWorkflowBundle(root);
  const rng = new Rng(deriveSeed('soak', SEED));
  let workerCount = 0;
  const spawn = () =>
    startWorkerProcess({
      address: server.address,
      lightQueue: config.temporal.taskQueues.light,
      acceleratorQueue: config.temporal.taskQueues.accelerator,
      artifactsDir: config.artifacts.dir,
      workflowCodePath: bundle,
      logFile: path.join(root, `worker-${++workerCount}.log`),
    });

  const kills: { atSeconds: number; running: string[] }[] = [];
  let deferred = 0;
  let worker: WorkerProcess = await spawn();
  const handle = await startCampaign(client, config);
  let done = false;
  const result = handle.result().finally(() => (done = true));
  result.catch(() => undefined);
  while (!done) {
    const delay = KILL_MIN + rng.next() * (KILL_MAX - KILL_MIN);
    const wake = Date.now() + delay * 1000;
    while (!done && Date.now() < wake) await new Promise((r) => setTimeout(r, 200));
    if (done) break;
    // Light activities do not heartbeat (workflows/presets.ts LIGHT: 30-minute start-to-close), so a
    // worker killed under one leaves it pending for half an hour: wait for it to finish first.
    let running = await runningTypes(client, config.name);
    while (!done && running.some((t) => !HEARTBEATING.has(t))) {
      deferred++;
      await new Promise((r) => setTimeout(r, 250));
      running = await runningTypes(client, config.name);
    }
    if (done) break;
    await worker.kill();
    kills.push({ atSeconds: Math.round((Date.now() - started) / 100) / 10, running });
    process.stdout.write(
      `kill ${kills.length} at ${kills[kills.length - 1].atSeconds}s during ${running.join(', ') || '(between activities)'}\n`,
    );
    worker = await spawn();
  }
  const campaign = await result;
  await worker.stop();

  const store = new LocalArtifactStore(config.artifacts.dir);
  const rounds = (await finishedRounds(client, config.name, { store })).map((r) => r.result);
  let duplicates = 0;
  let missing = 0;
  for (const r of rounds.filter((x) => x.sampling)) {
    const sampled = await sampledQuestionIds(config.artifacts.dir, r);
    const expected = await datasetIds(config.artifacts.dir, r.datasetRef!);
    duplicates += sampled.length - new Set(sampled).size;
    missing += expected.filter((id) => !sampled.includes(id)).length;
  }
  const runs: { workflowId: string; runId: string; events: number; bytes: number }[] = [];
  for (const id of [config.name, ...rounds.map((r) => `${config.name}/round-${r.round}`)]) {
    for await (const w of client.workflow.list({ query: `WorkflowId = '${id}'` })) {
      const history = await client.workflow.getHandle(id, w.runId).fetchHistory();
      const bytes = Buffer.byteLength(JSON.stringify(history));
      runs.push({ workflowId: id, runId: w.runId, events: w.historyLength, bytes });
    }
  }
  await connection.close();
  await server.stop();

  const report = {
    machine: machine(),
    date: new Date().toISOString(),
    settings: {
      rounds: ROUNDS,
      seed: SEED,
      killBetweenSeconds: [KILL_MIN, KILL_MAX],
      unlabeled: numberArg('unlabeled', 16),
      eval: numberArg('eval', 8),
    },
    roundsCompleted: rounds.filter((r) => r.round > 0).length,
    killsSurvived: kills.length,
    killsDeferredWhileLightActivityRan: deferred,
    kills,
    duplicates,
    missing,
    bestAccuracy: campaign.bestAccuracy,
    wallSeconds: Math.round((Date.now() - started) / 1000),
    historyPerRun: runs,
    maxEventsPerRun: Math.max(...runs.map((r) => r.events)),
  };
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
  console.table([
    {
      rounds: report.roundsCompleted,
      kills: report.killsSurvived,
      duplicates,
      missing,
      'max events/run': report.maxEventsPerRun,
      'wall s': report.wallSeconds,
    },
  ]);
  console.log(`wrote ${OUT}`);
  if (duplicates > 0 || missing > 0 || report.roundsCompleted < ROUNDS) process.exitCode = 1;
}

async function runningTypes(client: Client, campaignId: string): Promise<string[]> {
  const out: string[] = [];
  try {
    await collectRunning(client, campaignId, out);
  } catch {
    out.push('(unknown: visibility query failed)');
  }
  return out;
}

async function collectRunning(client: Client, campaignId: string, out: string[]): Promise<void> {
  for await (const w of client.workflow.list({
    query: `WorkflowId STARTS_WITH '${campaignId}' AND ExecutionStatus = 'Running'`,
  })) {
    const d = await client.workflow.getHandle(w.workflowId, w.runId).describe();
    for (const a of d.raw.pendingActivities ?? []) out.push(a.activityType?.name ?? '?');
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
