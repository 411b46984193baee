import { ApplicationFailure, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { CampaignConfig } from '../config/campaign';
import {
  FailureType,
  type AcceleratorActivities,
  type LightActivities,
  type RoundInput,
  type RoundResult,
  type RoundStep,
  type SamplingParams,
  type ShardInput,
  type ShardResult,
} from '../contract';
import { collapseReason } from '../method/health';
import { pauseGate } from './pause-gate';
import { accelerator, LIGHT } from './presets';
import { roundProgress } from './round-progress';
import { decideGate, tooFewKept, trainingForRound } from './round-rules';
import { runShards } from './shard-lanes';

/**
 * One round of self-improvement, the paper's steps in order (round 0 only evaluates the base model):
 *   (exemplars, questions) -> 1. sample -> 2-3. vote & filter -> 4. mixed formats -> 5. fine-tune
 *   -> 6. evaluate -> gate -> record.
 * strategy 'ttrl' (Zuo et al. 2025) replaces 4-5: reward each trained path by its agreement with the
 * majority answer, then a GRPO update on those rewards.
 * Every step is an activity whose result is refs + small stats, so the history has a bounded number
 * of events per shard whatever the number of questions. The round waits at its pause gate
 * (pause-gate.ts) before each activity and reports each step (round-progress.ts); shards run in
 * parallel lanes (shard-lanes.ts).
 */
export async function selfImprovementRound(input: RoundInput): Promise<RoundResult> {
  const { config, inputs, campaignId, round } = input;
  const light = proxyActivities<LightActivities>({ ...LIGHT, taskQueue: config.temporal.taskQueues.light });
  const model = proxyActivities<AcceleratorActivities>(
    accelerator(config.temporal.taskQueues.accelerator, config.temporal.heartbeatTimeoutSeconds),
  );
  const startedAt = new Date().toISOString();
  const roundTraining = trainingForRound(config.training, round);
  const unpaused = pauseGate(input.paused ?? false);
  const report = roundProgress(round);
  /** Starts a one-activity step: says so, then waits at the pause gate. */
  const begin = async (step: RoundStep) => {
    await report(step, 0, 1);
    await unpaused();
  };
  /** Runs a step's shard activities in the config's parallel lanes. */
  const shards = <I extends ShardInput>(
    step: RoundStep,
    count: number,
    size: number,
    makeInput: (shard: number, start: number, end: number) => I,
    run: (input: I) => Promise<ShardResult>,
  ) =>
    runShards({
      step,
      count,
      size,
      lanes: config.sampling.maxConcurrentShards,
      makeInput,
      run,
      unpaused,
      report,
    });

  const seed = (purpose: string) => `${config.seed}/round-${round}/${purpose}`;
  const task = { name: config.task.name, options: taskOptions(config.task) };
  const provider = {
    executionProvider: config.model.executionProvider,
    allowCpuFallback: config.model.allowCpuFallback,
  };
  const sampling = samplingParams(config);

  let exemplarsRef = inputs.exemplarsRef;
  let poolRef = inputs.unlabeledRef;
  let generated: RoundResult['generatedQuestions'] = null;
  let samplingResult: RoundResult['sampling'] = null;
  let vote: RoundResult['vote'] = null;
  let trainingSet: RoundResult['trainingSet'] = null;
  let policySet: RoundResult['policySet'] = null;
  let training: RoundResult['training'] = null;
  let modelOut = input.modelRef;

  if (round > 0) {
    // The paper's self-generated few-shot CoT exemplars, when the campaign was given none.
    const needExemplars =
      config.sampling.prompt === 'few-shot-cot' || config.formats.some((f) => f.startsWith('few-shot'));
    if (needExemplars && exemplarsRef === null) {
      await begin('exemplars');
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
      await begin('questions');
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

    // 1. Sample m chain-of-thought paths for every unlabeled question.
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

    // 2-3. Majority vote (self-consistency) and keep the paths that agree with it.
    await begin('vote');
    vote = await light.voteAndFilter({
      datasetRef: pool.ref,
      shardRefs: sampled.map((s) => s.ref),
      task,
      weighting: config.voting.weighting,
      filter: config.filtering,
      previousVotesRef: input.previous?.votesRef ?? null,
    });
    // Training on nothing (or on the few paths a broken setup lets through) and promoting the same
    // model hides the fault: stop here with the reason. Rounds recorded before this went on.
    const keptTooFew = tooFewKept(vote.stats, {
      minFraction: config.gate.minKeptFraction ?? 0,
      stopWhenNothingKept: config.gate.stopWhenNothingKept ?? true,
    });
    if (keptTooFew !== null && patched('lmsi-nothing-kept')) {
      throw ApplicationFailure.create({
        type: FailureType.NothingKept,
        nonRetryable: true,
        message: `round ${round}: ${keptTooFew}`,
        details: [{ round, kept: vote.stats.kept, paths: vote.stats.paths, droppedBy: vote.stats.droppedBy }],
      });
    }

    if (config.strategy === 'ttrl') {
      // TTRL: each trained path's reward is its agreement with the majority answer; GRPO
      // normalises the rewards within each question's group.
      await begin('reward');
      policySet = await light.buildPolicySet({
        datasetRef: pool.ref,
        shardRefs: sampled.map((s) => s.ref),
        votesRef: vote.votesRef,
        task,
        trainedPaths: config.ttrl.trainedPaths,
      });
      // A GRPO update against the sampling policy (the round's model at the sampling temperature).
      await begin('train');
      training = await model.policyUpdate({
        campaignId,
        round,
        modelRef: input.modelRef,
        policySetRef: policySet.ref,
        training: roundTraining,
        grpo: {
          clipEpsilon: config.ttrl.clipEpsilon,
          klBeta: config.ttrl.klBeta,
          temperature: config.sampling.temperature,
        },
        seed: seed('train'),
        ...provider,
      });
    } else {
      // 4. Each kept path in the paper's mixed formats.
      await begin('format');
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

      // 5. Fine-tune the model on them.
      await begin('train');
      training = await model.fineTune({
        campaignId,
        round,
        modelRef: input.modelRef,
        trainingSetRef: trainingSet.ref,
        training: roundTraining,
        seed: seed('train'),
        role: 'teacher',
        chatTemplate: sampling.chatTemplate,
        ...provider,
      });
    }
    modelOut = training.modelRef;
  }

  // 6. Greedy + SC@k + calibration of a model on the evaluation set (labels are read only here).
  const evalM = Math.max(...config.evaluation.scK);
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
      previousDetailsRef: input.previous?.evaluationDetailsRef ?? null,
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
      await begin('distill');
      studentTraining = await model.fineTune({
        campaignId,
        round,
        role: 'student',
        modelRef: input.studentModelRef,
        trainingSetRef: trainingSet.ref,
        training: roundTraining,
        seed: seed('distill'),
        chatTemplate: sampling.chatTemplate,
        ...provider,
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

  // The gate: promote the round's model unless it scores worse than the best beyond the tolerance.
  await report('gate', 0, 1);
  const gate = decideGate(
    summary.greedyAccuracy ?? summary.scAccuracy,
    input.bestAccuracy,
    config.gate.tolerance,
    round,
  );
  // The label-free collapse rule reads the trained model's paths alone; a collapsed model is not
  // promoted and the campaign stops after this round (workflows/campaign.ts).
  const labelFree = config.gate.labelFree;
  const collapse =
    round > 0 && labelFree && summary.health
      ? collapseReason(summary.health, input.baseHealth ?? null, labelFree)
      : null;
  if (collapse !== null) {
    gate.promoted = false;
    gate.collapse = collapse;
    gate.reason = `${collapse}; not promoted, the campaign stops after this round`;
  }
  const result: RoundResult = {
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
    ...(policySet ? { policySet } : {}),
    training,
    evaluation,
    student,
    gate,
    startedAt,
    finishedAt: new Date().toISOString(),
  };
  // The round writes its own lineage to the artifact store, the one place it is read from once the
  // round is done (Temporal deletes the round workflow after the namespace's retention). Rounds run
  // before this were recorded by their campaign (workflows/campaign.ts).
  if (patched('lmsi-round-writes-record')) {
    const { workflowId } = workflowInfo();
    result.recordRef = (await light.recordRound({ campaignId, round, workflowId, result })).ref;
  }
  await report('done', 1, 1);
  return result;
}

/** How the round samples: the config's sampling options and its prompting mode. */
function samplingParams(config: CampaignConfig): SamplingParams {
  return {
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
}

function taskOptions(t: RoundInput['config']['task']) {
  const { name: _name, ...options } = t;
  return Object.keys(options).length > 0 ? options : undefined;
}
