import {
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  AcceleratorActivities,
  LightActivities,
  SamplingParams,
  ShardInput,
  ShardResult,
} from '../activities';
import { pauseSignal, resumeSignal, roundProgressQuery, roundProgressSignal } from './messages';
import { accelerator, LIGHT } from './presets';
import { LmsiStep } from './search-attributes';
import type { CampaignConfig } from '../config/campaign';
import type { GateDecision, RoundInput, RoundProgress, RoundResult, RoundStep } from './types';

/**
 * One round of self-improvement (round 0 only evaluates the base model):
 *   exemplars -> sample (shards in parallel) -> vote & filter -> mixed formats -> fine-tune
 *   -> evaluate (shards) -> gate.
 * Every step is an activity whose result is refs + small stats, so the history has a bounded number
 * of events per shard whatever the number of questions.
 */
export async function selfImprovementRound(input: RoundInput): Promise<RoundResult> {
  const { config, inputs, campaignId, round } = input;
  const light = proxyActivities<LightActivities>({ ...LIGHT, taskQueue: config.temporal.taskQueues.light });
  const model = proxyActivities<AcceleratorActivities>(
    accelerator(config.temporal.taskQueues.accelerator, config.temporal.heartbeatTimeoutSeconds),
  );
  const startedAt = new Date().toISOString();
  const roundTraining = trainingForRound(config.training, round);

  let paused = input.paused ?? false;
  const progress: RoundProgress = { round, step: 'starting', done: 0, total: 0 };
  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));
  setHandler(roundProgressQuery, () => progress);
  const parent = workflowInfo().parent;
  const report = async (step: RoundStep, done: number, total: number) => {
    const stepChanged = step !== progress.step;
    Object.assign(progress, { step, done, total });
    if (stepChanged) upsertSearchAttributes([{ key: LmsiStep, value: step }]);
    if (parent)
      await getExternalWorkflowHandle(parent.workflowId).signal(roundProgressSignal, { ...progress });
  };
  /** Pause point: between activities. */
  const unpaused = () => condition(() => !paused);

  const seed = (purpose: string) => `${config.seed}/round-${round}/${purpose}`;
  const task = { name: config.task.name, options: taskOptions(config.task) };
  const provider = {
    executionProvider: config.model.executionProvider,
    allowCpuFallback: config.model.allowCpuFallback,
  };
  const sampling: SamplingParams = {
    m: config.sampling.m,
    temperature: config.sampling.temperature,
    topK: config.sampling.topK,
    topP: config.sampling.topP,
    maxNewTokens: config.sampling.maxNewTokens,
    stop: config.sampling.stop,
    // Campaigns started before prompting existed have no such section in their history: left
    // out, their activities keep the raw prompts they started with.
    chatTemplate: (config.prompting as CampaignConfig['prompting'] | undefined)?.chatTemplate,
  };

  /** Runs shard activities over [0, count) with at most `limit` at a time, reporting each. */
  const shards = async <I extends ShardInput>(
    step: RoundStep,
    count: number,
    size: number,
    makeInput: (shard: number, start: number, end: number) => I,
    run: (input: I) => Promise<ShardResult>,
  ): Promise<ShardResult[]> => {
    const ranges = shardRanges(count, size);
    const results: ShardResult[] = new Array<ShardResult>(ranges.length);
    let next = 0;
    let done = 0;
    await report(step, 0, ranges.length);
    const lane = async () => {
      while (next < ranges.length) {
        const i = next++;
        await unpaused();
        results[i] = await run(makeInput(i, ranges[i][0], ranges[i][1]));
        await report(step, ++done, ranges.length);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(config.sampling.maxConcurrentShards, ranges.length) }, lane),
    );
    return results;
  };

  let exemplarsRef = inputs.exemplarsRef;
  let poolRef = inputs.unlabeledRef;
  let generated: RoundResult['generatedQuestions'] = null;
  let samplingResult: RoundResult['sampling'] = null;
  let vote: RoundResult['vote'] = null;
  let trainingSet: RoundResult['trainingSet'] = null;
  let training: RoundResult['training'] = null;
  let modelOut = input.modelRef;

  if (round > 0) {
    const needExemplars =
      config.sampling.prompt === 'few-shot-cot' || config.formats.some((f) => f.startsWith('few-shot'));
    if (needExemplars && exemplarsRef === null) {
      await report('exemplars', 0, 1);
      await unpaused();
      exemplarsRef = (
        await model.generateExemplars({
          datasetRef: inputs.unlabeledRef,
          candidates: config.selfGeneration.exemplarCandidates,
          modelRef: input.modelRef,
          task,
          sampling,
          templates: config.selfGeneration.exemplarTemplates,
          shots: config.selfGeneration.exemplarShots,
          seed: seed('exemplars'),
          ...provider,
        })
      ).ref;
    }

    // The paper's self-generated questions join this round's unlabeled pool.
    let pool = { ref: inputs.unlabeledRef, count: inputs.unlabeledCount };
    if (config.selfGeneration.questionsPerRound > 0) {
      await report('questions', 0, 1);
      await unpaused();
      generated = await model.generateQuestions({
        campaignId,
        round,
        datasetRef: inputs.unlabeledRef,
        modelRef: input.modelRef,
        task,
        count: config.selfGeneration.questionsPerRound,
        shots: config.selfGeneration.questionShots,
        temperature: config.sampling.temperature,
        maxNewTokens: config.sampling.maxNewTokens,
        seed: seed('questions'),
        ...provider,
      });
      pool = { ref: generated.ref, count: generated.count };
    }
    poolRef = pool.ref;

    const sampled = await shards(
      'sample',
      pool.count,
      config.sampling.shardSize,
      (shard, start, end) => ({
        campaignId,
        round,
        shard,
        datasetRef: pool.ref,
        start,
        end,
        modelRef: input.modelRef,
        task,
        prompt: config.sampling.prompt,
        exemplarsRef,
        sampling,
        seed: seed('sample'),
        ...provider,
      }),
      (i) => model.samplePaths(i),
    );
    samplingResult = {
      shards: sampled,
      questions: sampled.reduce((s, r) => s + r.questions, 0),
      paths: sampled.reduce((s, r) => s + r.paths, 0),
    };

    await report('vote', 0, 1);
    await unpaused();
    vote = await light.voteAndFilter({
      datasetRef: pool.ref,
      shardRefs: sampled.map((s) => s.ref),
      task,
      weighting: config.voting.weighting,
      filter: config.filtering,
    });
    // Training on nothing (or on the few paths a broken setup lets through) and promoting the same
    // model hides the fault: stop here with the reason. Rounds recorded before this went on.
    const keptTooFew = tooFewKept(vote.stats, {
      minFraction: config.gate.minKeptFraction ?? 0,
      stopWhenNothingKept: config.gate.stopWhenNothingKept ?? true,
    });
    if (keptTooFew !== null && patched('lmsi-nothing-kept')) {
      throw ApplicationFailure.create({
        type: 'NothingKept',
        nonRetryable: true,
        message: `round ${round}: ${keptTooFew}`,
        details: [{ round, kept: vote.stats.kept, paths: vote.stats.paths, droppedBy: vote.stats.droppedBy }],
      });
    }

    await report('format', 0, 1);
    await unpaused();
    trainingSet = await light.buildTrainingSet({
      keptRef: vote.keptRef,
      datasetRef: pool.ref,
      exemplarsRef,
      formats: config.formats,
      task,
      seed: seed('format'),
      replayRef: inputs.replayRef,
      replayRatio: roundTraining.replayRatio,
    });

    await report('train', 0, 1);
    await unpaused();
    training = await model.fineTune({
      campaignId,
      round,
      modelRef: input.modelRef,
      trainingSetRef: trainingSet.ref,
      training: roundTraining,
      seed: seed('train'),
      role: 'teacher',
      chatTemplate: sampling.chatTemplate,
    });
    modelOut = training.modelRef;
  }

  const evalM = Math.max(...config.evaluation.scK);
  /** Greedy + SC@k + calibration of a model on the evaluation set (labels are read only here). */
  const evaluate = async (modelRef: string) => {
    const evalShards = await shards(
      'evaluate',
      inputs.evalCount,
      config.evaluation.shardSize,
      (shard, start, end) => ({
        campaignId,
        round,
        shard,
        datasetRef: inputs.evalRef,
        start,
        end,
        modelRef,
        task,
        prompt: config.sampling.prompt,
        exemplarsRef,
        sampling: { ...sampling, m: evalM },
        seed: seed('evaluate'),
        greedy: config.evaluation.greedy,
        ...provider,
      }),
      (i) => model.evaluateShard(i),
    );
    await unpaused();
    const summary = await light.summarizeEvaluation({
      datasetRef: inputs.evalRef,
      shardRefs: evalShards.map((s) => s.ref),
      task,
      scK: config.evaluation.scK,
      calibrationBins: config.evaluation.calibrationBins,
      weighting: config.voting.weighting,
      seed: seed('evaluate'),
    });
    return { shards: evalShards, summary };
  };
  const evaluation = await evaluate(modelOut);
  const summary = evaluation.summary;

  // Distillation (the paper's 8B/62B students): the student is fine-tuned on the teacher's
  // self-training set of this round and evaluated beside it. It is not gated: it follows the teacher.
  let student: RoundResult['student'] = null;
  if (input.studentModelRef) {
    let studentTraining: RoundResult['training'] = null;
    let studentOut = input.studentModelRef;
    if (round > 0 && trainingSet) {
      await report('distill', 0, 1);
      await unpaused();
      studentTraining = await model.fineTune({
        campaignId,
        round,
        role: 'student',
        modelRef: input.studentModelRef,
        trainingSetRef: trainingSet.ref,
        training: roundTraining,
        seed: seed('distill'),
        chatTemplate: sampling.chatTemplate,
      });
      studentOut = studentTraining.modelRef;
    }
    student = {
      modelIn: input.studentModelRef,
      modelOut: studentOut,
      training: studentTraining,
      evaluation: await evaluate(studentOut),
    };
  }

  await report('gate', 0, 1);
  const gate = decideGate(
    summary.greedyAccuracy ?? summary.scAccuracy,
    input.bestAccuracy,
    config.gate.tolerance,
    round,
  );
  await report('done', 1, 1);
  return {
    round,
    config,
    task,
    datasetRef: round > 0 ? poolRef : null,
    evalRef: inputs.evalRef,
    modelIn: input.modelRef,
    modelOut,
    exemplarsRef,
    generatedQuestions: generated,
    sampling: samplingResult,
    vote,
    trainingSet,
    training,
    evaluation,
    student,
    gate,
    startedAt,
    finishedAt: new Date().toISOString(),
  };
}

/**
 * Why a round's vote kept too few paths to train on, or null when it kept enough: none at all
 * (unless gate.stopWhenNothingKept is off), or fewer than `minFraction` of the sampled paths
 * (gate.minKeptFraction). Names what dropped them.
 */
export function tooFewKept(
  stats: { paths: number; kept: number; droppedBy: Record<string, number> },
  gate: { minFraction: number; stopWhenNothingKept: boolean },
): string | null {
  const { minFraction } = gate;
  const fraction = stats.paths > 0 ? stats.kept / stats.paths : 0;
  if (stats.kept > 0 ? fraction >= minFraction : !gate.stopWhenNothingKept && minFraction === 0) return null;
  const dropped = Object.entries(stats.droppedBy)
    .filter(([, n]) => n > 0)
    .map(([why, n]) => `${why} ${n}`)
    .join(', ');
  const kept = `kept ${stats.kept} of ${stats.paths} sampled paths${dropped ? ` (dropped: ${dropped})` : ''}`;
  if (stats.kept === 0) {
    return `${kept}: no path agreed with its question's majority answer, so there is nothing to train on and the round is not promoted; check the tokenizer (it must be the model's own) and sampling.maxNewTokens (paths cut before their answer abstain)`;
  }
  return `${kept}, ${(fraction * 100).toFixed(1)}% below gate.minKeptFraction ${(minFraction * 100).toFixed(1)}%: the round is not trained on nor promoted; check the tokenizer, sampling.maxNewTokens and filtering, or lower gate.minKeptFraction`;
}

/**
 * Promote the round's model unless its accuracy fell more than `tolerance` below the best so far.
 * Either way the decision is recorded; a model that is not promoted is never sampled from again.
 */
export function decideGate(
  accuracy: number,
  best: number | null,
  tolerance: number,
  round: number,
): GateDecision {
  if (round === 0 || best === null) {
    return { promoted: true, accuracy, best, tolerance, reason: 'base model' };
  }
  const promoted = accuracy >= best - tolerance;
  const delta = ((accuracy - best) * 100).toFixed(1);
  return {
    promoted,
    accuracy,
    best,
    tolerance,
    reason: promoted
      ? `accuracy ${delta} points from the best (tolerance ${(tolerance * 100).toFixed(1)})`
      : `accuracy fell ${(-Number(delta)).toFixed(1)} points below the best, beyond the tolerance of ${(tolerance * 100).toFixed(1)}`,
  };
}

/**
 * The training settings of one round: the campaign's, with every `fromRound` override of a round up
 * to this one applied in round order. An override's `epochs` drops the `steps` it replaces (and the
 * other way round), so exactly one of them is set. Without overrides: the campaign's settings as they
 * are, so runs recorded before the field schedule the same activities.
 */
export function trainingForRound(
  training: CampaignConfig['training'],
  round: number,
): Omit<CampaignConfig['training'], 'fromRound'> {
  const { fromRound, ...settings } = training;
  const from = Object.keys(fromRound ?? {})
    .map(Number)
    .filter((r) => r <= round)
    .sort((a, b) => a - b);
  for (const r of from) {
    const override = fromRound![String(r)];
    if (override.epochs !== undefined) delete settings.steps;
    if (override.steps !== undefined) delete settings.epochs;
    for (const [key, value] of Object.entries(override))
      if (value !== undefined) Object.assign(settings, { [key]: value });
  }
  return settings;
}

/** [start, end) of each shard of `count` items. */
export function shardRanges(count: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < count; start += size) out.push([start, Math.min(count, start + size)]);
  return out;
}

function taskOptions(t: RoundInput['config']['task']) {
  const { name: _name, ...options } = t;
  return Object.keys(options).length > 0 ? options : undefined;
}
