/**
 * One phase of bench/real-models/run.ts, run in its own process so its memory is measured alone and
 * it can be stopped before it takes the machine down:
 *
 *   node --import tsx bench/real-models/phase.ts load     '{"model": DIR, "graphCacheDir": DIR, "sample": {...}}' OUT.json
 *   node --import tsx bench/real-models/phase.ts finetune '{"model": DIR, "data": FILE, "outDir": DIR, ...}' OUT.json
 *   node --import tsx bench/real-models/phase.ts campaign '{"model": DIR, "address": HOST:PORT, ...}' OUT.json
 *
 * Writes what it measured to OUT.json; a failure is written there too (its message), then rethrown.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { campaignStatus, finishedRounds, roundStepSeconds, startCampaign } from '../../client';
import { LocalArtifactStore } from '../../store';
import { CampaignConfig } from '../../config/campaign';
import { emptyTimings, loadGenerationModel, generatePaths } from '../../engine/generate';
import { decoderFile } from '../../engine/generate/load';
import { fineTune, readExamples } from '../../engine/train';
import { createLmsiWorker } from '../../workers';

const seconds = (fromMs: number) => Math.round((performance.now() - fromMs) / 10) / 100;

/** What a phase measured so far: written with the error when it fails midway. */
const partial: Record<string, unknown> = {};

interface LoadArgs {
  model: string;
  graphCacheDir: string;
  /** Remove the graph cache first: the load builds the inference graph from the weights. */
  fresh: boolean;
  threads: number;
  /** Default cpu (bench/gpu: cuda). */
  provider?: 'cpu' | 'cuda';
  /**
   * Sample n paths of each prompt (`prompts`, else the one `prompt`), `reps` times (default 1), after
   * `warmup` untimed calls (default 0: the first call includes building the decode-steps session).
   */
  sample?: {
    prompt?: string;
    prompts?: string[];
    n: number;
    maxNewTokens: number;
    temperature: number;
    reps?: number;
    warmup?: number;
  };
}

async function load(a: LoadArgs) {
  if (a.fresh) rmSync(a.graphCacheDir, { recursive: true, force: true });
  let t = performance.now();
  decoderFile(a.model, a.graphCacheDir);
  const graphSeconds = seconds(t);
  t = performance.now();
  const model = await loadGenerationModel(a.model, {
    graphCacheDir: a.graphCacheDir,
    threads: a.threads,
    provider: a.provider ?? 'cpu',
  });
  const sessionSeconds = seconds(t);
  const out: Record<string, unknown> = {
    graphSeconds,
    sessionSeconds,
    loadSeconds: graphSeconds + sessionSeconds,
  };
  if (a.sample) {
    const { n, maxNewTokens, temperature } = a.sample;
    const prompts = a.sample.prompts ?? [a.sample.prompt!];
    const once = async () => {
      const timings = emptyTimings();
      const t0 = performance.now();
      const completions = (
        await generatePaths(model, {
          prompts,
          n,
          maxNewTokens,
          temperature,
          // No stop string: every path runs its maxNewTokens unless it draws eos, so runs compare.
          stop: [],
          seed: 'bench-real-models',
          timings,
        })
      ).flat();
      return { s: seconds(t0), timings, completions };
    };
    for (let i = 0; i < (a.sample.warmup ?? 0); i++) await once();
    const reps: { newTokens: number; seconds: number; tokensPerSecond: number }[] = [];
    let last: Awaited<ReturnType<typeof once>> | null = null;
    for (let i = 0; i < (a.sample.reps ?? 1); i++) {
      last = await once();
      const tokens = last.completions.reduce((acc, c) => acc + c.tokenIds.length, 0);
      reps.push({
        newTokens: tokens,
        seconds: last.s,
        tokensPerSecond: Math.round((tokens / last.s) * 100) / 100,
      });
      partial.sampleReps = reps;
    }
    const { s, timings, completions } = last!;
    out.sample = {
      paths: completions.length,
      promptTokens: prompts.reduce((acc, p) => acc + model.tokenizer.encode(p).length, 0),
      newTokens: reps[reps.length - 1].newTokens,
      seconds: s,
      tokensPerSecond: reps[reps.length - 1].tokensPerSecond,
      reps,
      prefillSeconds: Math.round(timings.prefillMs) / 1000,
      decodeSeconds: Math.round(timings.decodeRunMs) / 1000,
      decodeTokensPerSecond: Math.round((timings.decodedRows / (timings.decodeRunMs / 1000)) * 100) / 100,
      // The rest of the time: building the decode-steps session (several steps per session.run) on
      // the first call, copying caches, the host's sampling.
      samplingSeconds: Math.round(timings.samplingMs) / 1000,
      cacheCopySeconds: Math.round(timings.cacheCopyMs) / 1000,
      stepsPerRun: timings.stepsPerRun,
      stepsFallbackReason: timings.stepsFallbackReason,
      firstPath: completions[0]?.text.slice(0, 120) ?? null,
    };
  }
  return out;
}

interface FinetuneArgs {
  model: string;
  data: string;
  outDir: string;
  steps: number;
  batchSize: number;
  /** Absent: the engine's default (the longest example's length, rounded up). */
  seqLen?: number;
  /** 'full' fine-tuning or LoRA adapters (rank 8 on every projection, the engine's defaults). */
  method: 'full' | 'lora';
  /** Recompute each layer's activations in the backward pass (default false). */
  recompute?: boolean;
  threads: number;
  /** Default cpu (bench/gpu: cuda). */
  provider?: 'cpu' | 'cuda';
}

/** The campaign's training step on prompt/completion lines, timed per step. */
async function finetune(a: FinetuneArgs) {
  rmSync(a.outDir, { recursive: true, force: true });
  const started = performance.now();
  const marks: number[] = [];
  const result = await fineTune({
    from: a.model,
    outDir: a.outDir,
    examples: readExamples(a.data),
    config: {
      steps: a.steps,
      batchSize: a.batchSize,
      learningRate: 1e-4,
      checkpointEvery: 1000,
      ...(a.seqLen === undefined ? {} : { seqLen: a.seqLen }),
      method: a.method,
      recompute: a.recompute ?? false,
      seed: 'bench-real-models',
    },
    threads: a.threads,
    provider: a.provider ?? 'cpu',
    onProgress: (p) => {
      marks.push(performance.now());
      partial.stepsDone = p.step;
      partial.firstStepSeconds = Math.round((marks[0] - started) / 10) / 100;
      partial.stepSecondsSoFar = marks.slice(1).map((m, i) => Math.round((m - marks[i]) / 10) / 100);
    },
  });
  const total = seconds(started);
  // Step 1 includes the training session's creation; the last step includes writing the checkpoint.
  const between = marks.slice(1).map((m, i) => Math.round((m - marks[i]) / 10) / 100);
  rmSync(a.outDir, { recursive: true, force: true });
  return {
    method: a.method,
    recompute: a.recompute ?? false,
    steps: result.steps,
    seqLen: a.seqLen ?? 'default',
    batchSize: a.batchSize,
    tokensSeen: result.tokensSeen,
    firstStepSeconds: Math.round((marks[0] - started) / 10) / 100,
    stepSeconds: between.length > 1 ? between.slice(0, -1) : between,
    secondsTotal: total,
    finalLoss: result.finalLoss,
    provider: result.provider,
  };
}

interface CampaignArgs {
  model: string;
  address: string;
  name: string;
  workDir: string;
  unlabeled: string;
  evaluation: string;
  threads: number;
  progressFile: string;
  config: Record<string, unknown>;
}

/** One round through the real workflows: a light and an accelerator worker in this process. */
async function campaign(a: CampaignArgs) {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  rmSync(a.workDir, { recursive: true, force: true });
  mkdirSync(a.workDir, { recursive: true });
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const config = CampaignConfig.parse({
    ...a.config,
    name: a.name,
    model: { dir: a.model },
    data: { unlabeledQuestions: a.unlabeled, evaluation: a.evaluation },
    temporal: {
      // A model load or a training step of a real-size model on a shared CPU outlasts the default.
      heartbeatTimeoutSeconds: 900,
      taskQueues: { light: `real-models-light-${suffix}`, accelerator: `real-models-accel-${suffix}` },
    },
    artifacts: { dir: path.join(a.workDir, 'artifacts') },
  });
  const connection = await NativeConnection.connect({ address: a.address });
  const clientConnection = await Connection.connect({ address: a.address });
  const client = new Client({ connection: clientConnection });
  const common = { connection, artifactsDir: config.artifacts.dir, threads: a.threads };
  const workers = await Promise.all([
    createLmsiWorker({ ...common, role: 'light', taskQueue: config.temporal.taskQueues.light }),
    createLmsiWorker({ ...common, role: 'accelerator', taskQueue: config.temporal.taskQueues.accelerator }),
  ]);
  const running = workers.map((w) => w.run());
  const started = performance.now();
  // Where the campaign is, every few seconds: if the bench kills this process, the last line says
  // which round and step the memory went to.
  const progress = setInterval(() => {
    campaignStatus(client, config.name)
      .then((s) =>
        writeFileSync(
          a.progressFile,
          JSON.stringify({ seconds: seconds(started), round: s.round, step: s.step, progress: s.progress }),
        ),
      )
      .catch(() => undefined);
  }, 3000);
  try {
    const handle = await startCampaign(client, config);
    let failure: string | null = null;
    await handle.result().catch((e: unknown) => {
      const chain: string[] = [];
      for (let c = e as Error | undefined; c; c = c.cause as Error | undefined) chain.push(c.message);
      failure = chain.join(' <- ');
    });
    const wallSeconds = seconds(started);
    const rounds = await finishedRounds(client, config.name, {
      store: new LocalArtifactStore(config.artifacts.dir),
    });
    return {
      campaignId: config.name,
      wallSeconds,
      failure,
      rounds: await Promise.all(
        rounds.map(async ({ summary, result }) => ({
          round: summary.round,
          wallSeconds: summary.wallSeconds,
          stepSeconds: await roundStepSeconds(client, config.name, summary.round),
          sampledPaths: result.sampling?.paths ?? null,
          keptPaths: summary.keptPaths,
          trained: result.training?.trained ?? null,
          trainingSteps: result.training?.trained ? result.training.steps : null,
          finalLoss: result.training?.finalLoss ?? null,
          greedyAccuracy: summary.greedyAccuracy,
          scAccuracy: summary.scAccuracy,
        })),
      ),
    };
  } finally {
    clearInterval(progress);
    workers.forEach((w) => w.shutdown());
    await Promise.all(running);
    await connection.close();
    await clientConnection.close();
  }
}

async function main() {
  const [phase, json, outFile] = process.argv.slice(2);
  if (!phase || !json || !outFile) throw new Error('usage: phase.ts load|finetune|campaign JSON OUT.json');
  const args = JSON.parse(json);
  try {
    const result =
      phase === 'load'
        ? await load(args as LoadArgs)
        : phase === 'finetune'
          ? await finetune(args as FinetuneArgs)
          : phase === 'campaign'
            ? await campaign(args as CampaignArgs)
            : null;
    if (result === null) throw new Error(`unknown phase ${phase}`);
    writeFileSync(outFile, JSON.stringify({ ok: true, ...result }, null, 2));
  } catch (e) {
    writeFileSync(
      outFile,
      JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e), ...partial }),
    );
    throw e;
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
