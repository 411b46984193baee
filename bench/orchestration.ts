/**
 * Orchestration overhead of one self-improvement round: how much of a round's wall time is spent
 * outside activities (scheduling, history, workers polling) rather than sampling, voting, training.
 *
 *   npm run bench:orchestration [-- --model DIR]
 *
 * Starts its own Temporal dev server (the project's CLI binary), in-process workers, and runs a
 * campaign of one round on arith questions. overheadFraction = 1 - (time covered by at least one
 * running activity) / (round wall time), from the round workflow's history event times.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { startCampaign } from '../client';
import { CampaignConfig } from '../config/campaign';
import { writeArithSplits } from '../method/tasks/arith';
import { createLmsiWorker } from '../workers';
import { lmsiSearchAttributeKeys } from '../workflows/search-attributes';
import { createBaseModel } from '../engine/checkpoint';
import { machine } from './machine';

async function main(): Promise<void> {
  const modelArg = process.argv.indexOf('--model');
  const root = path.resolve(__dirname, '..');
  const work = path.join(root, 'tmp', `bench-orchestration-${process.pid}`);
  const modelDir =
    modelArg > 0
      ? path.resolve(process.argv[modelArg + 1])
      : createBaseModel({ config: {}, seed: 1, dir: path.join(work, 'model') });
  const files = await writeArithSplits(path.join(work, 'data'), 1, { train: 0, unlabeled: 64, eval: 32 });
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: path.join(root, '.tools/bin/temporal') },
      ip: '127.0.0.1',
      searchAttributes: lmsiSearchAttributeKeys,
    },
  });
  const connection = await NativeConnection.connect({ address: env.address });
  const config = CampaignConfig.parse({
    name: `bench-orchestration-${Date.now()}`,
    model: { dir: modelDir },
    task: { name: 'arith' },
    data: { unlabeledQuestions: files.unlabeled, evaluation: files.eval },
    sampling: { m: 8, maxNewTokens: 64, prompt: 'zero-shot-cot', shardSize: 16, maxConcurrentShards: 1 },
    formats: ['zero-shot-cot', 'zero-shot-direct'],
    training: { steps: 20, batchSize: 8, checkpointEvery: 10 },
    evaluation: { scK: [8], shardSize: 16 },
    rounds: 1,
    temporal: { taskQueues: { light: 'bench-light', accelerator: 'bench-accel' } },
    artifacts: { dir: path.join(work, 'artifacts') },
  });
  const common = { connection, artifactsDir: config.artifacts.dir, threads: os.cpus().length };
  const workers = await Promise.all([
    createLmsiWorker({ ...common, role: 'light', taskQueue: 'bench-light' }),
    createLmsiWorker({ ...common, role: 'accelerator', taskQueue: 'bench-accel' }),
  ]);
  const running = workers.map((w) => w.run());
  try {
    await (await startCampaign(env.client, config)).result();
  } finally {
    workers.forEach((w) => w.shutdown());
    await Promise.all(running);
  }
  const history = await env.client.workflow.getHandle(`${config.name}/round-1`).fetchHistory();
  const events = history.events ?? [];
  const time = (e: (typeof events)[number]) => {
    const t = e.eventTime!;
    return Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
  };
  // Activity execution intervals: started -> completed/failed (by scheduled event id).
  const started = new Map<number, number>();
  const intervals: [number, number][] = [];
  let activitySeconds = 0;
  for (const e of events) {
    if (e.activityTaskStartedEventAttributes)
      started.set(Number(e.activityTaskStartedEventAttributes.scheduledEventId), time(e));
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (done) {
      const t0 = started.get(Number(done.scheduledEventId))!;
      intervals.push([t0, time(e)]);
      activitySeconds += (time(e) - t0) / 1000;
    }
  }
  intervals.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = -Infinity;
  for (const [a, b] of intervals) {
    if (b <= end) continue;
    covered += b - Math.max(a, end);
    end = b;
  }
  const roundWallSeconds = (time(events[events.length - 1]) - time(events[0])) / 1000;
  const result = {
    machine: machine(),
    model: modelArg > 0 ? modelDir : 'random weights, embedded size (createBaseModel)',
    questions: { unlabeled: 64, eval: 32, m: 8 },
    roundWallSeconds,
    activitySeconds,
    activityCoveredSeconds: covered / 1000,
    overheadFraction: 1 - covered / 1000 / roundWallSeconds,
    historyEvents: events.length,
    historyBytes: Buffer.byteLength(historyToJSON(history)),
  };
  console.table({
    'round wall (s)': result.roundWallSeconds.toFixed(2),
    'activity time, summed (s)': result.activitySeconds.toFixed(2),
    'covered by activities (s)': result.activityCoveredSeconds.toFixed(2),
    'overhead fraction': result.overheadFraction.toFixed(4),
    'history events': result.historyEvents,
    'history bytes': result.historyBytes,
  });
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  writeFileSync(path.join(root, 'bench/results/orchestration.json'), `${JSON.stringify(result, null, 2)}\n`);
  await connection.close();
  await env.teardown();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
