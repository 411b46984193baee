import type { AcceleratorActivities, LightActivities } from '../contract';
import type { ActivityDeps } from './deps';
import { makeBuildTrainingSet, makeSnapshotReplayExamples } from './build-training-set';
import { makeSummarizeEvaluation } from './evaluation';
import { makeGenerateExemplars, makeSnapshotExemplars } from './exemplars';
import { makeBuildPolicySet } from './build-policy-set';
import { makeFineTune, makePolicyUpdate } from './fine-tune';
import { makeGenerateQuestions } from './generate-questions';
import { keepingAlive } from './keep-alive';
import { makeImportModel } from './model-cache';
import { makeEvaluateShard, makeSamplePaths } from './sample-shard';
import { makeSnapshotDataset } from './snapshot-dataset';
import { makeRecordRound } from './record-round';
import { makeRecordFailure } from './record-failure';
import { makeVoteAndFilter } from './vote-and-filter';
import { makeWriteReport } from './write-report';

export type { ActivityDeps } from './deps';

/**
 * Activities for the light task queue: files, voting, filtering, formatting, scoring, reports. Each
 * heartbeats on a timer while it runs (activities/keep-alive.ts), so a dead worker's light activity
 * moves to another worker after LIGHT's heartbeat timeout.
 */
export function createLightActivities(deps: ActivityDeps): LightActivities {
  return {
    snapshotDataset: keepingAlive(makeSnapshotDataset(deps)),
    snapshotExemplars: keepingAlive(makeSnapshotExemplars(deps)),
    snapshotReplayExamples: keepingAlive(makeSnapshotReplayExamples(deps)),
    importModel: keepingAlive(makeImportModel(deps)),
    voteAndFilter: keepingAlive(makeVoteAndFilter(deps)),
    buildTrainingSet: keepingAlive(makeBuildTrainingSet(deps)),
    buildPolicySet: keepingAlive(makeBuildPolicySet(deps)),
    summarizeEvaluation: keepingAlive(makeSummarizeEvaluation(deps)),
    recordRound: keepingAlive(makeRecordRound(deps)),
    recordFailure: keepingAlive(makeRecordFailure(deps)),
    writeReport: keepingAlive(makeWriteReport(deps)),
  };
}

/** Activities for the accelerator task queue: everything that runs the model. */
export function createAcceleratorActivities(deps: ActivityDeps): AcceleratorActivities {
  return {
    samplePaths: makeSamplePaths(deps),
    evaluateShard: makeEvaluateShard(deps),
    generateExemplars: makeGenerateExemplars(deps),
    generateQuestions: makeGenerateQuestions(deps),
    fineTune: makeFineTune(deps),
    policyUpdate: makePolicyUpdate(deps),
  };
}

/** Every lmsi activity (a worker polling both queues registers all of them). */
export function createActivities(deps: ActivityDeps): LightActivities & AcceleratorActivities {
  return { ...createLightActivities(deps), ...createAcceleratorActivities(deps) };
}
