/**
 * Orchestration overhead of one self-improvement round: how much of a round's wall time is spent
 * outside activities (scheduling, history, workers polling) rather than sampling, voting, training.
 *
 *   npm run bench:orchestration [-- --model DIR] [--max-new-tokens N]
 *
 * With --model, a model folder built by `lmsi model init` (or the demo) brings its own data splits
 * (DIR/../data): the round samples the first 64 unlabeled questions and evaluates on the first 32, so
 * it really keeps paths and fine-tunes. Without it, a random-weight model keeps nothing and the round
 * skips training. The results record the machine's load average: on a shared machine it moves the
 * wall time (and the overhead, which includes waiting for a CPU).
 *
 * Starts its own Temporal dev server (the project's CLI binary), in-process workers, and runs a
 * campaign of one round on arith questions. overheadFraction = 1 - (time covered by at least one
 * running activity) / (round wall time), from the round workflow's history event times.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import type { RoundResult } from '../contract';
import { numberArg, stringArg } from './args';
import { machine } from './machine';

/** The first n lines of a JSONL file, copied under dir (the bench's slice of a model's data split). */
function firstLines(file: string, n: number, dir: string): string {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const out = path.join(dir, 'data', path.basename(file));
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${lines.slice(0, n).join('\n')}\n`);
  return out;
}

async function main(): Promise<void> {
  const modelArg = stringArg('model');
  const maxNewTokens = numberArg('max-new-tokens', 64);
  const root = path.resolve(__dirname, '..');
  const work = path.join(root, 'tmp', `bench-orchestration-${process.pid}`);
  const modelDir =
    modelArg !== undefined
      ? path.resolve(modelArg)
      : createBaseModel({ config: {}, seed: 1, dir: path.join(work, 'model') });
  const sizes = { unlabeled: 64, eval: 32 };
  const modelData = path.join(path.dirname(modelDir), 'data');
  const files = existsSync(path.join(modelData, 'unlabeled.jsonl'))
    ? {
        unlabeled: firstLines(path.join(modelData, 'unlabeled.jsonl'), sizes.unlabeled, work),
        eval: firstLines(path.join(modelData, 'eval.jsonl'), sizes.eval, work),
      }
    : await writeArithSplits(path.join(work, 'data'), 1, { train: 0, ...sizes });
  const loadBefore = os.loadavg();
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
    sampling: { m: 8, maxNewTokens, prompt: 'zero-shot-cot', shardSize: 16, maxConcurrentShards: 1 },
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
  const loadAfter = os.loadavg();
  const roundHandle = env.client.workflow.getHandle(`${config.name}/round-1`);
  const history = await roundHandle.fetchHistory();
  const round = (await roundHandle.result()) as RoundResult;
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
    model:
      modelArg !== undefined
        ? path.relative(root, modelDir)
        : 'random weights, embedded size (createBaseModel)',
    data: existsSync(path.join(modelData, 'unlabeled.jsonl'))
      ? path.relative(root, modelData)
      : 'generated arith splits',
    questions: { ...sizes, m: 8, maxNewTokens },
    loadAverage: {
      before: loadBefore.map((x) => Math.round(x * 100) / 100),
      after: loadAfter.map((x) => Math.round(x * 100) / 100),
    },
    round: {
      keptPaths: round.vote?.stats.kept ?? 0,
      questionsKept: round.vote?.stats.questionsKept ?? 0,
      trainingExamples: round.trainingSet?.examples ?? 0,
      trained: round.training?.trained ?? false,
      trainingSteps: round.training?.steps ?? 0,
      greedyAccuracy: round.evaluation.summary.greedyAccuracy,
      scAccuracy: round.evaluation.summary.scAccuracy,
      promoted: round.gate.promoted,
    },
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
    'kept paths / training steps': `${result.round.keptPaths} / ${result.round.trainingSteps}`,
    'load average (1 min) before / after': `${result.loadAverage.before[0]} / ${result.loadAverage.after[0]}`,
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
