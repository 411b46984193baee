import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  ContinueAsNew,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
  type SignalDefinition,
} from '@temporalio/workflow';
import {
  FailureType,
  roundWorkflowId,
  type CampaignInput,
  type CampaignInputs,
  type CampaignProgress,
  type CampaignResult,
  type CampaignState,
  type CampaignStatus,
  type LightActivities,
  type ReportArtifacts,
  type RoundInput,
  type RoundResult,
  type RoundSummary,
} from '../contract';
import { pauseSignal, resumeSignal, roundProgressSignal, statusQuery } from './messages';
import { LIGHT } from './presets';
import { selfImprovementRound } from './round';
import { summarizeRound } from '../contract/round-summary';
import { LmsiBestGreedyAccuracy, LmsiCampaignId, LmsiModel, LmsiRound, LmsiStep } from './search-attributes';

/**
 * A self-improvement campaign: round 0 evaluates the base model, then rounds 1..N each run as a
 * child workflow `<campaignId>/round-<n>`; between rounds the campaign continues as new with its
 * typed state, so its history stays bounded however many rounds it runs.
 */
export async function selfImprovementCampaign(input: CampaignInput): Promise<CampaignResult> {
  const { campaignId, config } = input;
  const state: CampaignState = input.state ?? {
    inputs: null,
    nextRound: 0,
    bestModelRef: null,
    bestAccuracy: null,
    rounds: [],
    paused: false,
  };
  const light = proxyActivities<LightActivities>({ ...LIGHT, taskQueue: config.temporal.taskQueues.light });
  let progress: CampaignProgress = { round: state.nextRound, step: 'starting', done: 0, total: 0 };
  let report: ReportArtifacts | null = null;
  let reportError: string | null = null;
  let runningChild: string | null = null;
  let stopped: CampaignResult['stopped'];

  const status = (): CampaignStatus => ({
    campaignId,
    state: state.paused ? 'paused' : 'running',
    round: progress.round,
    step: progress.step,
    progress: { done: progress.done, total: progress.total },
    rounds: state.rounds,
    bestModelRef: state.bestModelRef,
    bestAccuracy: state.bestAccuracy,
    report,
    ...(reportError ? { reportError } : {}),
    ...(stopped ? { stopped } : {}),
  });
  setHandler(statusQuery, status);
  // The running round is told the campaign's pause state one signal at a time. Two signals sent
  // to it at once can arrive swapped: a pause and a resume in quick succession left the round paused
  // under a running campaign. Runs from before this patch forward every signal as it comes.
  const orderedPause = patched('lmsi-ordered-pause');
  let roundPaused = false; // what the running round was started with, or last told
  let syncing = false;
  const syncRound = async () => {
    if (syncing) return; // the loop in flight sends the latest state once its signal lands
    syncing = true;
    try {
      while (runningChild !== null && roundPaused !== state.paused) {
        const paused = state.paused;
        try {
          await getExternalWorkflowHandle(runningChild).signal(paused ? pauseSignal : resumeSignal);
        } catch (err) {
          // The round closed meanwhile; the next round starts with the campaign's state.
          if (isCancellation(err)) throw err;
          break;
        }
        roundPaused = paused;
      }
    } finally {
      syncing = false;
    }
  };
  const forward = async (signal: SignalDefinition) => {
    if (orderedPause) await syncRound();
    else if (runningChild) await getExternalWorkflowHandle(runningChild).signal(signal);
  };
  setHandler(pauseSignal, async () => {
    state.paused = true;
    await forward(pauseSignal);
  });
  setHandler(resumeSignal, async () => {
    state.paused = false;
    await forward(resumeSignal);
  });
  setHandler(roundProgressSignal, (p) => {
    if (p.step !== progress.step)
      upsertSearchAttributes([{ key: LmsiStep, value: `round-${p.round}:${p.step}` }]);
    progress = p;
  });

  upsertSearchAttributes([
    { key: LmsiCampaignId, value: campaignId },
    { key: LmsiRound, value: state.nextRound },
  ]);

  try {
    if (state.inputs === null) {
      await condition(() => !state.paused);
      state.inputs = await snapshotInputs(light, input);
      state.bestModelRef = state.inputs.baseModelRef;
      state.studentModelRef = state.inputs.studentModelRef ?? null;
    }
    const inputs = state.inputs;
    const round = state.nextRound;
    await condition(() => !state.paused);
    const roundId = roundWorkflowId(campaignId, round);
    // A signal can reach a child only once it has started: with ordered pause the round is
    // signalled from then on, and told about any change that came while it was starting.
    if (!orderedPause) runningChild = roundId;
    roundPaused = state.paused;
    const child = await startChild(selfImprovementRound, {
      workflowId: roundId,
      taskQueue: workflowInfo().taskQueue,
      args: [
        {
          campaignId,
          round,
          config,
          inputs,
          modelRef: state.bestModelRef!,
          bestAccuracy: state.bestAccuracy,
          paused: state.paused,
          studentModelRef: state.studentModelRef ?? null,
          previous: previousRound(state.rounds),
          baseHealth: state.rounds.find((r) => r.round === 0)?.health?.evaluated ?? null,
        },
      ],
      typedSearchAttributes: [
        { key: LmsiCampaignId, value: campaignId },
        { key: LmsiRound, value: round },
      ],
    });
    runningChild = roundId;
    if (orderedPause) await syncRound();
    let result: RoundResult;
    try {
      result = await child.result();
    } catch (err) {
      const stop = nothingKept(err);
      // A round that kept too few paths stops the campaign: its report says why, then it fails with
      // the reason (status shows it). Campaigns run before this fail with the round's failure as is.
      if (stop === null || !patched('lmsi-nothing-kept-report')) throw err;
      runningChild = null;
      let stoppedReport: ReportArtifacts | null = null;
      try {
        stoppedReport = await light.writeReport({
          campaignId,
          roundWorkflowIds: state.rounds.map((r) => r.workflowId),
          roundResultRefs: state.rounds.map((r) => r.resultRef ?? null),
          stopped: { round, reason: stop },
        });
      } catch (reportErr) {
        // The reason stands without its report (`lmsi report` can make one).
        if (isCancellation(reportErr)) throw reportErr;
      }
      throw ApplicationFailure.create({
        type: FailureType.NothingKept,
        nonRetryable: true,
        message: stop,
        details: [{ round, report: stoppedReport }],
      });
    }
    runningChild = null;
    const summary = summarizeRound(result, roundId);
    // The round's lineage is in the artifact store, where readers find it once Temporal's retention
    // has deleted the round workflow: the round wrote it itself (workflows/round.ts), or, for a
    // round run before rounds did, the campaign records it here from the round's result. Campaigns
    // recorded before either replay without it.
    if (result.recordRef !== undefined) {
      summary.resultRef = result.recordRef;
    } else if (patched('lmsi-round-record')) {
      summary.resultRef = (await light.recordRound({ campaignId, round, workflowId: roundId, result })).ref;
    }
    state.rounds.push(summary);
    if (result.student) state.studentModelRef = result.student.modelOut;
    if (result.gate.promoted) {
      state.bestModelRef = result.modelOut;
      const accuracy = result.gate.accuracy;
      state.bestAccuracy = state.bestAccuracy === null ? accuracy : Math.max(state.bestAccuracy, accuracy);
      upsertSearchAttributes([
        { key: LmsiModel, value: result.modelOut },
        { key: LmsiBestGreedyAccuracy, value: state.bestAccuracy },
      ]);
    }
    state.nextRound = round + 1;
    // gate.labelFree saw this round's model collapse: it was not promoted, and no later round runs.
    if (result.gate.collapse) stopped = { round, reason: result.gate.collapse };
    if (round < config.rounds && !stopped) {
      await condition(allHandlersFinished);
      return await continueAsNew<typeof selfImprovementCampaign>({ campaignId, config, state });
    }
    // Campaigns recorded before the report step replay without it.
    if (patched('lmsi-write-report')) {
      await condition(() => !state.paused);
      progress = { round, step: 'report', done: 0, total: 1 };
      upsertSearchAttributes([{ key: LmsiStep, value: 'report' }]);
      try {
        report = await light.writeReport({
          campaignId,
          roundWorkflowIds: state.rounds.map((r) => r.workflowId),
          roundResultRefs: state.rounds.map((r) => r.resultRef ?? null),
          ...(stopped ? { stopped } : {}),
        });
      } catch (err) {
        // The rounds and their models stand without a report (`lmsi report` can make one later):
        // a report that failed past its retries is recorded, not turned into a failed campaign.
        if (isCancellation(err)) throw err;
        reportError = err instanceof ActivityFailure && err.cause ? err.cause.message : String(err);
      }
      progress = { round, step: 'done', done: 1, total: 1 };
    }
    upsertSearchAttributes([{ key: LmsiStep, value: 'completed' }]);
    await condition(allHandlersFinished);
    return {
      campaignId,
      rounds: state.rounds,
      bestModelRef: state.bestModelRef!,
      bestAccuracy: state.bestAccuracy,
      ...(report ? { report } : {}),
      ...(reportError ? { reportError } : {}),
      ...(stopped ? { stopped } : {}),
    };
  } catch (err) {
    if (isCancellation(err)) {
      // Record where it stopped; the cancelled child already let its running activity flush.
      await CancellationScope.nonCancellable(async () => {
        upsertSearchAttributes([{ key: LmsiStep, value: 'cancelled' }]);
      });
    } else if (!(err instanceof ContinueAsNew) && patched('lmsi-record-failure')) {
      // The reason goes into the campaign index too, so status reads it from the store alone.
      // Campaigns that failed before this replay without it.
      await recordFailure(config, campaignId, err, progress);
    }
    throw err;
  }
}

/**
 * Enters a failed run's reason, round, step and activity in the campaign index (best effort: the
 * campaign fails with its own failure whatever happens here, and a few quick attempts at most).
 */
async function recordFailure(
  config: CampaignInput['config'],
  campaignId: string,
  err: unknown,
  progress: CampaignProgress,
): Promise<void> {
  const { recordFailure: record } = proxyActivities<LightActivities>({
    ...LIGHT,
    taskQueue: config.temporal.taskQueues.light,
    startToCloseTimeout: '1 minute',
    retry: { ...LIGHT.retry, maximumAttempts: 3 },
  });
  let workflowId = campaignId;
  let activity: string | null = null;
  let root: unknown = err;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ChildWorkflowFailure) workflowId = e.execution.workflowId ?? workflowId;
    if (e instanceof ActivityFailure) activity = e.activityType;
    root = e;
  }
  const message = root instanceof Error ? root.message : String(root);
  const type =
    root instanceof ApplicationFailure
      ? (root.type ?? 'Error')
      : root instanceof TimeoutFailure
        ? 'Timeout'
        : null;
  try {
    await record({
      campaignId,
      runId: workflowInfo().runId,
      failure: {
        message,
        type,
        round: progress.round,
        step: progress.step,
        activity,
        workflowId,
        failedAt: new Date().toISOString(),
      },
    });
  } catch (recordErr) {
    if (isCancellation(recordErr)) throw recordErr;
  }
}

/** The last finished round's vote records and evaluation scores (the next round's health compares). */
function previousRound(rounds: readonly RoundSummary[]): RoundInput['previous'] {
  const last = rounds[rounds.length - 1];
  if (!last || last.evaluationDetailsRef === undefined) return null;
  return { votesRef: last.votesRef ?? null, evaluationDetailsRef: last.evaluationDetailsRef };
}

/** The reason of a round that failed because its vote kept too few paths (round.ts), else null. */
function nothingKept(err: unknown): string | null {
  if (!(err instanceof ChildWorkflowFailure)) return null;
  const cause = err.cause;
  return cause instanceof ApplicationFailure && cause.type === FailureType.NothingKept ? cause.message : null;
}

async function snapshotInputs(
  light: ReturnType<typeof proxyActivities<LightActivities>>,
  { config }: CampaignInput,
): Promise<CampaignInputs> {
  const task = config.task.name;
  const taskOptions = (({ name: _name, ...rest }) => (Object.keys(rest).length > 0 ? rest : undefined))(
    config.task,
  );
  const [model, unlabeled, evaluation, exemplars, replay, student] = await Promise.all([
    light.importModel({ dir: config.model.dir }),
    light.snapshotDataset({
      task,
      taskOptions,
      file: config.data.unlabeledQuestions,
      policy: config.data.badLines,
      limit: config.data.limit,
    }),
    light.snapshotDataset({
      task,
      taskOptions,
      file: config.data.evaluation,
      policy: config.data.badLines,
      limit: config.data.limit,
      // Labels are read only to score, but a missing one must fail here, not after the evaluation.
      requireLabels: true,
    }),
    config.data.exemplars ? light.snapshotExemplars({ file: config.data.exemplars }) : null,
    config.data.replayExamples ? light.snapshotReplayExamples({ file: config.data.replayExamples }) : null,
    config.student ? light.importModel({ dir: config.student.dir }) : null,
  ]);
  if (evaluation.count === 0) {
    throw ApplicationFailure.create({
      type: FailureType.BadInput,
      nonRetryable: true,
      message: `${config.data.evaluation}: data.evaluation: no questions to evaluate on`,
    });
  }
  return {
    baseModelRef: model.ref,
    unlabeledRef: unlabeled.ref,
    unlabeledCount: unlabeled.count,
    evalRef: evaluation.ref,
    evalCount: evaluation.count,
    exemplarsRef: exemplars?.ref ?? null,
    replayRef: replay?.ref ?? null,
    ...(student ? { studentModelRef: student.ref } : {}),
  };
}
