import type { ActivityDeps } from './deps';
import { makeBuildTrainingSet, makeSnapshotReplayExamples } from './build-training-set';
import { makeSummarizeEvaluation } from './evaluation';
import { makeGenerateExemplars, makeSnapshotExemplars } from './exemplars';
import { makeFineTune } from './fine-tune';
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
export type { DatasetSnapshot, SnapshotDatasetInput } from './snapshot-dataset';
export type { ImportModelInput, ModelArtifact } from './model-cache';
export type {
  EvaluationShardInput,
  SamplingParams,
  ShardCursor,
  ShardInput,
  ShardResult,
  SkippedQuestion,
} from './sample-shard';
export type { VoteAndFilterInput, VoteAndFilterResult } from './vote-and-filter';
export type { BuildTrainingSetInput, TrainingRecord, TrainingSetResult } from './build-training-set';
export type { FineTuneCursor, FineTuneHeartbeat, FineTuneInput, FineTuneResult } from './fine-tune';
export type { EvaluationSummary, SummarizeEvaluationInput } from './evaluation';
export type { ExemplarSetsResult, GenerateExemplarsInput } from './exemplars';
export type { GeneratedQuestionsResult, GenerateQuestionsInput } from './generate-questions';
export type { ReportArtifacts, WriteReportInput } from './write-report';
export type { RecordRoundInput, RecordRoundResult } from './record-round';
export type { RecordFailureInput } from './record-failure';
export type { QuestionEvaluation, QuestionSamples, StoredPath, VoteRecord } from './records';
export { NON_RETRYABLE_TYPES } from './failures';

/**
 * Activities for the light task queue: files, voting, filtering, formatting, scoring, reports. Each
 * heartbeats on a timer while it runs (activities/keep-alive.ts), so a dead worker's light activity
 * moves to another worker after LIGHT's heartbeat timeout.
 */
export function createLightActivities(deps: ActivityDeps) {
  return {
    snapshotDataset: keepingAlive(makeSnapshotDataset(deps)),
    snapshotExemplars: keepingAlive(makeSnapshotExemplars(deps)),
    snapshotReplayExamples: keepingAlive(makeSnapshotReplayExamples(deps)),
    importModel: keepingAlive(makeImportModel(deps)),
    voteAndFilter: keepingAlive(makeVoteAndFilter(deps)),
    buildTrainingSet: keepingAlive(makeBuildTrainingSet(deps)),
    summarizeEvaluation: keepingAlive(makeSummarizeEvaluation(deps)),
    recordRound: keepingAlive(makeRecordRound(deps)),
    recordFailure: keepingAlive(makeRecordFailure(deps)),
    writeReport: keepingAlive(makeWriteReport(deps)),
  };
}

/** Activities for the accelerator task queue: everything that runs the model. */
export function createAcceleratorActivities(deps: ActivityDeps) {
  return {
    samplePaths: makeSamplePaths(deps),
    evaluateShard: makeEvaluateShard(deps),
    generateExemplars: makeGenerateExemplars(deps),
    generateQuestions: makeGenerateQuestions(deps),
    fineTune: makeFineTune(deps),
  };
}

/** Every lmsi activity (a worker polling both queues registers all of them). */
export function createActivities(deps: ActivityDeps) {
  return { ...createLightActivities(deps), ...createAcceleratorActivities(deps) };
}

export type LightActivities = ReturnType<typeof createLightActivities>;
export type AcceleratorActivities = ReturnType<typeof createAcceleratorActivities>;
export type LmsiActivities = ReturnType<typeof createActivities>;
