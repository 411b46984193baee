import type { EvaluationSummary, SummarizeEvaluationInput } from './evaluation';
import type {
  RecordFailureInput,
  RecordRoundInput,
  RecordRoundResult,
  ReportArtifacts,
  WriteReportInput,
} from './report';
import type { BuildPolicySetInput, PolicySetResult, PolicyUpdateInput } from './policy';
import type { EvaluationShardInput, ShardInput, ShardResult } from './sampling';
import type {
  GeneratedQuestionsResult,
  GenerateExemplarsInput,
  GenerateQuestionsInput,
} from './self-generation';
import type {
  DatasetSnapshot,
  ExemplarSetsResult,
  ImportModelInput,
  ModelArtifact,
  ReplaySnapshot,
  SnapshotDatasetInput,
  SnapshotFileInput,
} from './snapshots';
import type { BuildTrainingSetInput, FineTuneInput, FineTuneResult, TrainingSetResult } from './training';
import type { VoteAndFilterInput, VoteAndFilterResult } from './vote';

/**
 * The activities of the light task queue, as workflows call them (proxyActivities<LightActivities>):
 * files, voting, filtering, formatting, scoring, reports. activities/index.ts implements them.
 */
export interface LightActivities {
  snapshotDataset(input: SnapshotDatasetInput): Promise<DatasetSnapshot>;
  snapshotExemplars(input: SnapshotFileInput): Promise<ExemplarSetsResult>;
  snapshotReplayExamples(input: SnapshotFileInput): Promise<ReplaySnapshot>;
  importModel(input: ImportModelInput): Promise<ModelArtifact>;
  voteAndFilter(input: VoteAndFilterInput): Promise<VoteAndFilterResult>;
  buildTrainingSet(input: BuildTrainingSetInput): Promise<TrainingSetResult>;
  buildPolicySet(input: BuildPolicySetInput): Promise<PolicySetResult>;
  summarizeEvaluation(input: SummarizeEvaluationInput): Promise<EvaluationSummary>;
  recordRound(input: RecordRoundInput): Promise<RecordRoundResult>;
  recordFailure(input: RecordFailureInput): Promise<void>;
  writeReport(input: WriteReportInput): Promise<ReportArtifacts>;
}

/** The activities of the accelerator task queue: everything that runs the model. */
export interface AcceleratorActivities {
  samplePaths(input: ShardInput): Promise<ShardResult>;
  evaluateShard(input: EvaluationShardInput): Promise<ShardResult>;
  generateExemplars(input: GenerateExemplarsInput): Promise<ExemplarSetsResult>;
  generateQuestions(input: GenerateQuestionsInput): Promise<GeneratedQuestionsResult>;
  fineTune(input: FineTuneInput): Promise<FineTuneResult>;
  policyUpdate(input: PolicyUpdateInput): Promise<FineTuneResult>;
}

/** Every lmsi activity (a worker polling both queues registers all of them). */
export type LmsiActivities = LightActivities & AcceleratorActivities;
