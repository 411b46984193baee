import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BadInputError } from '../../base/errors';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint';
import type { TrainerState } from '../checkpoint/trainer-state';
import {
  type ExecutionProvider,
  ExecutionProviderUnavailableError,
  cudaUnavailableReason,
} from '../generate/provider';
import type { Params } from '../model/params';
import { GrpoConfig } from '../model/policy-loss';
import { loadTokenizer } from '../tokenizer/load';
import { DataPlan, autoSeqLen, evalBatches, fingerprint, fitToLength, tokenizeExamples } from './batches';
import { checkpointDirName, listCheckpoints, pruneCheckpoints, removeTemporaryDirs } from './checkpoints';
import { type FineTuneConfigInput, FineTuneConfig } from './config';
import { NonFiniteLossError, TrainingAbortedError } from './errors';
import { type FineTuneExample, resolveExamples } from './examples';
import { POLICY_FILES, policyScores } from './policy-scores';
import { checkResumable, newestResumable } from './resume';
import { TrainingRunner } from './runner';
import { LoraConfig, initLora, mergeLora } from '../model/lora';
import { deriveSeed } from '../../base/rng';
import { learningRateAt } from './schedule';

export interface FineTuneProgress {
  step: number;
  totalSteps: number;
  /** Epoch of the next step (0-based). */
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Real (non-padding) tokens per second of step time, over this process's steps so far. */
  tokensPerSec: number;
  /** Held-out loss, on the steps it was measured. */
  evalLoss?: number;
  /** The checkpoint saved at this step, if one was. */
  checkpointDir?: string;
}

export interface FineTuneOptions {
  /** Checkpoint folder to start from (e.g. createBaseModel's). Its config.json fixes the model's shape. */
  from: string;
  /** Run folder: checkpoints go to outDir/checkpoint-<step>. */
  outDir: string;
  /**
   * JSONL file of {prompt, completion} lines, or the examples themselves. With loss 'grpo' each
   * also carries its `advantage`.
   */
  examples: string | readonly FineTuneExample[];
  /** Held-out examples whose cross-entropy is measured (loss 'sft' only). */
  evalExamples?: string | readonly FineTuneExample[];
  config: FineTuneConfigInput;
  /**
   * Continue this run from its newest checkpoint: the newest of outDir's checkpoints and `from` (when
   * `from` is a checkpoint of this run, e.g. one a retry on another machine unpacked). With none of
   * them holding trainer state, start afresh from `from`.
   */
  resume?: boolean;
  /**
   * Loss 'grpo' with klBeta > 0: the KL reference, a checkpoint folder of the same architecture
   * (e.g. the campaign's base model), scored once before step 1. Default: the starting model
   * `from`, which drew the paths (π_ref = π_old).
   */
  reference?: string;
  /**
   * Loss 'grpo': awaited after each micro-batch of the scoring pass before step 1 (π_old over every
   * path: a forward pass over the data, long enough on a large model to need its own heartbeats).
   */
  onScoring?: (p: { scoredRows: number; totalRows: number }) => void | Promise<void>;
  /** Awaited after every step (a Temporal activity heartbeats here). */
  onProgress?: (p: FineTuneProgress) => void | Promise<void>;
  /** Checked after every step: when aborted, saves a checkpoint and throws TrainingAbortedError. */
  signal?: AbortSignal;
  /** Intra-op threads for onnxruntime; default every core. Does not change the results. */
  threads?: number;
  /** Where the training graphs run (default cpu); cuda needs infra/gpu/install-cuda-ep. */
  provider?: ExecutionProvider;
  /** With provider cuda that cannot load here: train on the CPU (and say why) instead of failing. */
  allowCpuFallback?: boolean;
}

export interface TrainOutput {
  /** The final checkpoint. */
  checkpointDir: string;
  steps: number;
  /** Training loss of every step. */
  lossCurve: { step: number; loss: number }[];
  finalLoss: number;
  evalLosses: { step: number; loss: number }[];
  tokensSeen: number;
  /** Wall time of this call (a resumed run counts from the resume; checkpoints hold no clock time). */
  seconds: number;
  truncatedExamples: number;
  skippedExamples: number;
  /** The provider the run trained on, and why it is not the one asked for (CPU fallback), if so. */
  provider: ExecutionProvider;
  providerFallbackReason: string | null;
}

function parseConfig(input: FineTuneConfigInput): FineTuneConfig {
  const parsed = FineTuneConfig.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadInputError('(fine-tune config)', null, issue.path.join('.') || '(config)', issue.message);
  }
  return parsed.data;
}

function result(
  dir: string,
  s: TrainerState,
  counts: { truncatedExamples: number; skippedExamples: number },
  seconds: number,
  provider: { provider: ExecutionProvider; providerFallbackReason: string | null },
): TrainOutput {
  const lossCurve = s.log_history.map((l) => ({ step: l.step, loss: l.loss }));
  return {
    checkpointDir: dir,
    steps: s.global_step,
    lossCurve,
    finalLoss: lossCurve[lossCurve.length - 1]?.loss ?? NaN,
    evalLosses: s.eval_history.map((e) => ({ step: e.step, loss: e.eval_loss })),
    tokensSeen: s.tokens_seen,
    seconds,
    ...counts,
    ...provider,
  };
}

/** The provider to train on: cuda only where its libraries load, else the CPU when allowed. */
function resolveProvider(opts: FineTuneOptions): {
  provider: ExecutionProvider;
  providerFallbackReason: string | null;
} {
  if ((opts.provider ?? 'cpu') === 'cpu') return { provider: 'cpu', providerFallbackReason: null };
  const reason = cudaUnavailableReason();
  if (reason === null) return { provider: 'cuda', providerFallbackReason: null };
  if (!opts.allowCpuFallback) throw new ExecutionProviderUnavailableError('cuda', reason);
  return { provider: 'cpu', providerFallbackReason: reason };
}

/**
 * Fine-tunes a checkpoint on prompt/completion examples (loss on completions only): seeded data
 * order, warmup + cosine schedule, gradient accumulation, AdamW in place (runner.ts), periodic
 * held-out loss and checkpoints. A run resumed from any of its checkpoints ends with the same
 * weights as an uninterrupted one.
 */
export async function fineTune(opts: FineTuneOptions): Promise<TrainOutput> {
  const started = performance.now();
  const cfg = parseConfig(opts.config);
  const provider = resolveProvider(opts);
  removeTemporaryDirs(opts.outDir);
  const existing = listCheckpoints(opts.outDir);
  if (existing.length > 0 && !opts.resume)
    throw new BadInputError(
      opts.outDir,
      null,
      'outDir',
      `already holds ${path.basename(existing[0].dir)}: pass resume: true to continue that run, or use an empty folder`,
    );
  const resumeDir = opts.resume ? newestResumable([...existing.map((c) => c.dir), opts.from]) : null;
  const sourceDir = resumeDir ?? opts.from;

  const tok = loadTokenizer(sourceDir);
  const ckpt = loadCheckpoint(sourceDir);
  const model = ckpt.config;
  // Dynamic NTK rotary stretches past max_position_embeddings by design; other models stop there.
  const context = model.ropeScaling?.type === 'dynamic' ? Infinity : model.maxSeqLen;
  const policy = cfg.loss === 'grpo';
  if (policy && opts.evalExamples)
    throw new BadInputError(
      '(fine-tune config)',
      null,
      'loss',
      "'grpo' measures no held-out loss: leave evalExamples out (evaluate the updated model by sampling)",
    );
  if (opts.reference && !(policy && (cfg.grpo?.klBeta ?? 0) > 0))
    throw new BadInputError(
      '(fine-tune config)',
      null,
      'reference',
      "a KL reference model needs loss 'grpo' with grpo.klBeta > 0",
    );
  const all = tokenizeExamples(resolveExamples(opts.examples, '(examples)', policy ? 'policy' : 'sft'), tok);
  // The packing length: the config's, or the longest example's rounded up (batches.ts autoSeqLen).
  const T = cfg.seqLen ?? autoSeqLen(all.sequences, context);
  if (T > context)
    throw new BadInputError(
      '(fine-tune config)',
      null,
      'seqLen',
      `${T} exceeds the model's max_position_embeddings ${model.maxSeqLen}`,
    );
  const fitted = fitToLength(all.sequences, T);
  const train = { ...fitted, skipped: fitted.skipped + all.skipped };
  if (train.sequences.length === 0)
    throw new BadInputError(
      '(examples)',
      null,
      '(examples)',
      `no example's completion fits a row of ${T} tokens`,
    );
  const heldOut = opts.evalExamples
    ? tokenizeExamples(resolveExamples(opts.evalExamples, '(evalExamples)'), tok, T).sequences
    : [];
  const dataFingerprint = fingerprint(train.sequences, heldOut);
  const counts = { truncatedExamples: train.truncated, skippedExamples: train.skipped };

  const planOptions = {
    seed: cfg.seed,
    batchSize: cfg.batchSize,
    gradientAccumulation: cfg.gradientAccumulation,
    seqLen: T,
    packing: cfg.packing,
  };
  // The order depends on the sequences' lengths only: the plan made again with their old
  // log-probabilities (below) takes the same rows.
  let plan = new DataPlan(train.sequences, planOptions);
  let totalSteps = cfg.steps ?? 0;
  for (let e = 0; cfg.epochs !== undefined && e < cfg.epochs; e++) totalSteps += plan.stepsInEpoch(e);
  if (cfg.warmupSteps > totalSteps)
    throw new BadInputError(
      '(fine-tune config)',
      null,
      'warmupSteps',
      `${cfg.warmupSteps} warmup steps exceed the ${totalSteps} steps of the run`,
    );

  const prior = resumeDir ? checkResumable(resumeDir, ckpt, cfg, dataFingerprint) : null;
  if (prior?.finished)
    return result(resumeDir!, prior, counts, (performance.now() - started) / 1000, provider);

  const zeros = (p: Params): Params => new Map([...p].map(([k, v]) => [k, new Float32Array(v.length)]));
  // LoRA trains adapters on the frozen weights of `from` (new ones, or a resumed run's); a model
  // that was itself made with adapters is their merge, so a later run adapts it afresh.
  const lora = cfg.method === 'lora' ? LoraConfig.parse(cfg.lora ?? {}) : undefined;
  const trained: Params = lora
    ? prior
      ? ckpt.lora!.adapters
      : initLora(model, lora, deriveSeed(String(cfg.seed), 'lora-init'))
    : ckpt.params;
  const evalData = evalBatches(
    heldOut,
    { batchSize: cfg.batchSize, seqLen: T, packing: cfg.packing },
    tok.padId,
  );
  const runner = await TrainingRunner.create(
    {
      config: model,
      batchSize: cfg.batchSize,
      seqLen: T,
      adamw: {
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weightDecay: cfg.weightDecay,
        maxGradNorm: cfg.maxGradNorm,
      },
      accumulation: cfg.gradientAccumulation > 1,
      evaluation: evalData.length > 0,
      threads: opts.threads,
      provider: provider.provider,
      recompute: cfg.recompute,
      loss: cfg.loss,
      ...(policy ? { grpo: GrpoConfig.parse(cfg.grpo ?? {}), logProbs: !prior } : {}),
      ...(lora ? { lora, dropoutSeed: deriveSeed(String(cfg.seed), 'lora-dropout') } : {}),
    },
    trained,
    prior ? ckpt.optimizer! : { expAvg: zeros(trained), expAvgSq: zeros(trained) },
    lora ? ckpt.params : undefined,
  );

  /** Loss grpo: the files with π_old (and π_ref) that unfinished checkpoints carry. */
  let policyFiles: Record<string, Buffer> = {};
  const scorePolicy = async (): Promise<void> => {
    const scored = await policyScores({
      sequences: train.sequences,
      layout: { batchSize: cfg.batchSize, seqLen: T, padId: tok.padId },
      runner,
      config: model,
      resumeDir: prior ? resumeDir : null,
      ...(opts.reference ? { reference: opts.reference } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onScoring ? { onScoring: opts.onScoring } : {}),
    });
    plan = new DataPlan(scored.sequences, planOptions);
    policyFiles = scored.files;
  };

  const state: TrainerState = prior
    ? structuredClone(prior)
    : {
        format: 'lmsi-trainer-state/1',
        global_step: 0,
        max_steps: totalSteps,
        epoch: 0,
        step_in_epoch: 0,
        seed: cfg.seed,
        finished: false,
        tokens_seen: 0,
        data_fingerprint: dataFingerprint,
        args: cfg,
        log_history: [],
        eval_history: [],
      };
  let lastCheckpoint = resumeDir;
  let stepSeconds = 0;
  let stepTokens = 0;
  const evalEvery = cfg.evalEvery ?? cfg.checkpointEvery;

  const save = (): string => {
    state.finished = state.global_step === totalSteps;
    const dir = path.join(opts.outDir, checkpointDirName(state.global_step));
    const { params, optimizer } = runner.snapshot();
    // A policy update's unfinished checkpoints carry its log-probs; nothing else carries any (a
    // model that came from a policy update does not pass its own on).
    const extraFiles = {
      ...Object.fromEntries(
        Object.entries(ckpt.extraFiles ?? {}).filter(([name]) => !POLICY_FILES.includes(name)),
      ),
      ...(state.finished ? {} : policyFiles),
    };
    if (lora) {
      // The base stays as it came (its dtype holds it exactly) until the end, when the model is
      // the merge; the adapters are beside it in PEFT's layout either way.
      const weights = state.finished ? mergeLora(model, lora, ckpt.params, params) : ckpt.params;
      saveCheckpoint(dir, {
        ...ckpt,
        extraFiles,
        params: weights,
        lora: { config: lora, adapters: params },
        optimizer,
        trainerState: state,
      });
    } else
      // The model keeps the source's config.json, dtype and files; only the finished one is rounded
      // to that dtype, the others hold the exact weights a resumed run continues from.
      saveCheckpoint(
        dir,
        { ...ckpt, extraFiles, lora: undefined, params, optimizer, trainerState: state },
        { exactWeights: !state.finished },
      );
    pruneCheckpoints(opts.outDir, cfg.keepCheckpoints, dir);
    lastCheckpoint = dir;
    return dir;
  };

  try {
    if (opts.signal?.aborted) throw new TrainingAbortedError(state.global_step, lastCheckpoint);
    if (policy) await scorePolicy();
    if (!prior && evalData.length > 0)
      state.eval_history.push({ step: 0, eval_loss: await runner.evalLoss(evalData) });
    while (state.global_step < totalSteps) {
      const step = state.global_step + 1;
      const micro = plan.microBatches(state.epoch, state.step_in_epoch, tok.padId);
      const lr = learningRateAt(step, { ...cfg, totalSteps });
      const t0 = performance.now();
      const { loss, gradNorm } = await runner.step(micro, lr, step);
      stepSeconds += (performance.now() - t0) / 1000;
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm))
        throw new NonFiniteLossError(step, loss, gradNorm, lr, lastCheckpoint);
      const tokens = micro.reduce((a, mb) => a + mb.tokens, 0);
      stepTokens += tokens;
      state.global_step = step;
      state.tokens_seen += tokens;
      state.log_history.push({ step, loss, learning_rate: lr, grad_norm: gradNorm });
      if (++state.step_in_epoch >= plan.stepsInEpoch(state.epoch)) {
        state.epoch++;
        state.step_in_epoch = 0;
      }

      let evalLoss: number | undefined;
      if (evalData.length > 0 && (step % evalEvery === 0 || step === totalSteps)) {
        evalLoss = await runner.evalLoss(evalData);
        state.eval_history.push({ step, eval_loss: evalLoss });
      }
      const aborted = opts.signal?.aborted ?? false;
      const checkpointDir =
        step % cfg.checkpointEvery === 0 || step === totalSteps || aborted ? save() : undefined;
      await opts.onProgress?.({
        step,
        totalSteps,
        epoch: state.epoch,
        loss,
        lr,
        gradNorm,
        tokensPerSec: stepTokens / stepSeconds,
        ...(evalLoss === undefined ? {} : { evalLoss }),
        ...(checkpointDir ? { checkpointDir } : {}),
      });
      if (opts.signal?.aborted) {
        // Aborted during the progress callback: this step is not saved yet.
        const dir = checkpointDir ?? save();
        throw new TrainingAbortedError(step, dir);
      }
    }
    // The last step always saves (step === totalSteps), and a finished run returned above.
    return result(lastCheckpoint!, state, counts, (performance.now() - started) / 1000, provider);
  } finally {
    await runner.release();
  }
}
