import type { CampaignConfig } from '../config/campaign';
import type { LabelFreeHealth } from '../method/health';
import type { CampaignStop, ReportArtifacts } from './report';
import type { CampaignInputs, RoundProgress, RoundStep } from './round';

/** Where a campaign is: a round's step, or the report it writes once the last round is done. */
export type CampaignStep = RoundStep | 'report';

export interface CampaignProgress extends Omit<RoundProgress, 'step'> {
  step: CampaignStep;
}

/** One line per finished round, kept in the campaign's state (small: it crosses continueAsNew). */
export interface RoundSummary {
  round: number;
  workflowId: string;
  greedyAccuracy: number | null;
  scAccuracy: number;
  promoted: boolean;
  modelRef: string;
  selfTrainingSetRef: string | null;
  keptPaths: number | null;
  meanKeptConfidence: number | null;
  trainingExamples: number | null;
  finalLoss: number | null;
  wallSeconds: number;
  /**
   * Questions the round skipped because their prompt is longer than the model's context (sampling
   * and evaluation), and every skip and maxNewTokens clip in words (contract/context-limits.ts).
   * Absent when the context limited nothing.
   */
  skippedQuestions?: number;
  contextWarnings?: string[];
  /** Distillation only: the student's scores after this round. */
  studentGreedyAccuracy?: number | null;
  studentScAccuracy?: number | null;
  /**
   * The round's whole lineage stored as an artifact (report/round-record.ts): readers use it once
   * Temporal's retention has deleted the round workflow. Absent for rounds run before it existed.
   */
  resultRef?: string;
  /** The round's vote records and evaluation scores: the next round's health compares with them. */
  votesRef?: string | null;
  evaluationDetailsRef?: string;
  /**
   * Label-free health (method/health.ts) of the round's sampled paths (null in round 0) and of its
   * evaluated model's paths. Absent for rounds run before it.
   */
  health?: { sampled: LabelFreeHealth | null; evaluated: LabelFreeHealth | null };
}

export type CampaignStateName = 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

export interface CampaignState {
  inputs: CampaignInputs | null;
  nextRound: number;
  bestModelRef: string | null;
  bestAccuracy: number | null;
  rounds: RoundSummary[];
  paused: boolean;
  /** The student's current model when distilling. */
  studentModelRef?: string | null;
}

export interface CampaignInput {
  campaignId: string;
  config: CampaignConfig;
  /** Absent on the first run; carried through continueAsNew between rounds. */
  state?: CampaignState;
}

/**
 * Why a closed campaign failed, read by clients from its closed workflow (never set by the workflow's
 * own status query): the root failure's message and type, and where it happened.
 */
export interface CampaignFailure {
  /** The root cause's message (e.g. a BadInput naming file, line and field). */
  message: string;
  /** Its failure type ('BadInput', 'TrainingDiverged', ...), or what kind of failure it is otherwise. */
  type: string | null;
  /** The round it failed in (null before round 0 started). */
  round: number | null;
  /** The step it failed in: 'starting' is the campaign's snapshot of its inputs. */
  step: CampaignStep | null;
  /** The activity whose failure failed the campaign (null: the workflow itself failed it). */
  activity: string | null;
  /** The workflow the failure happened in (the campaign, or one of its rounds). */
  workflowId: string;
}

/** An activity of a running campaign that failed and is being retried (attempt 2 or later). */
export interface RetryingActivity {
  workflowId: string;
  activity: string;
  activityId: string;
  attempt: number;
  /** The retry policy's maximum attempts (null: unlimited). */
  maximumAttempts: number | null;
  lastFailure: string | null;
  /** When the next attempt is scheduled (ISO time), null while an attempt runs. */
  nextRetry: string | null;
}

/** An activity a worker is running for a campaign: which worker, since when, its last heartbeat. */
export interface RunningActivity {
  workflowId: string;
  activity: string;
  activityId: string;
  attempt: number;
  /** The identity of the worker that started this attempt (`lmsi worker --identity`, else pid@host). */
  worker: string;
  /** When this attempt started (ISO time). */
  startedAt: string | null;
  /** When its worker last heartbeated (ISO time), null before the first heartbeat. */
  lastHeartbeat: string | null;
}

/** A workflow task of a running campaign that keeps failing: the campaign makes no progress. */
export interface FailingWorkflowTask {
  workflowId: string;
  attempt: number;
  lastFailure: string | null;
  /** What most likely causes it, when the failure says (e.g. a missing or different codec key). */
  likelyCause: string | null;
}

export interface CampaignStatus {
  campaignId: string;
  state: CampaignStateName;
  round: number;
  rounds: RoundSummary[];
  step: CampaignStep;
  progress: { done: number; total: number };
  bestModelRef: string | null;
  bestAccuracy: number | null;
  /** The campaign's report artifacts, once its last round is done (absent before the report step). */
  report?: ReportArtifacts | null;
  /** Why the report step failed (after its retries); the campaign still completes. */
  reportError?: string;
  /** A failed campaign: why, and where (clients add it; the status query never sets it). */
  failure?: CampaignFailure;
  /** A running campaign: activities failing and being retried (clients add them). */
  retrying?: RetryingActivity[];
  /** A running campaign: the activities workers run now, and which worker runs each (clients add them). */
  running?: RunningActivity[];
  /** A running campaign: workflow tasks that keep failing, so it cannot move (clients add them). */
  failingWorkflowTasks?: FailingWorkflowTask[];
  /** A running campaign whose live status query failed: why (its status then comes from Temporal). */
  queryError?: string;
  /** Stopped early by gate.labelFree (the best earlier round's model stands). */
  stopped?: CampaignStop;
}

export interface CampaignResult {
  campaignId: string;
  rounds: RoundSummary[];
  bestModelRef: string;
  bestAccuracy: number | null;
  /** report.json and report.html in the artifact store (absent in campaigns run before the report step). */
  report?: ReportArtifacts;
  /** Why the report step failed (after its retries); the rounds and models stand. */
  reportError?: string;
  /** Stopped before config.rounds by gate.labelFree: the round and the collapse it saw. */
  stopped?: CampaignStop;
}
