import type { RoundResult } from './round';

/**
 * A campaign stopped early: the round that stopped it and why (its vote kept no path, or
 * gate.labelFree saw its model collapse).
 */
export interface CampaignStop {
  round: number;
  reason: string;
}

/** The input of writeReport: the campaign's report.json and report.html from its round records. */
export interface WriteReportInput {
  campaignId: string;
  /** The campaign's finished round workflows (`<campaignId>/round-<n>`), in order. */
  roundWorkflowIds: string[];
  /**
   * Each round's stored record (RoundRecord), parallel to roundWorkflowIds; null for a round run
   * before rounds were recorded (it cannot be reported). Absent in reports scheduled before the
   * records existed.
   */
  roundResultRefs?: (string | null)[];
  /** The campaign stops before its last round (too few paths kept, or a collapse): why, in the report. */
  stopped?: CampaignStop;
}

/** A campaign's report as artifacts: the page, its data, and a tree of both (materialise to a folder). */
export interface ReportArtifacts {
  treeRef: string;
  jsonRef: string;
  htmlRef: string;
  rounds: number;
}

/** The input of recordRound: a finished round's lineage, stored as its RoundRecord. */
export interface RecordRoundInput {
  campaignId: string;
  round: number;
  /** The round's workflow (`<campaignId>/round-<n>`). */
  workflowId: string;
  /**
   * The round's lineage. Absent only in activities scheduled before the round passed it (then it was
   * read from the round workflow through Temporal's client; now such a call fails non-retryably).
   */
  result?: RoundResult;
}

export interface RecordRoundResult {
  /** The round's record (RoundRecord) in the artifact store. */
  ref: string;
}

/** A failed campaign's reason and where it failed, as the campaign recorded it (workflows/campaign.ts). */
export interface RecordedFailure {
  message: string;
  type: string | null;
  round: number | null;
  step: string | null;
  activity: string | null;
  workflowId: string;
  /** When the run failed (workflow time). */
  failedAt: string;
}

/** The input of recordFailure: a failed campaign run's reason, entered in the campaign index. */
export interface RecordFailureInput {
  campaignId: string;
  /** The failed run of the campaign workflow (each run's failure is its own entry). */
  runId: string;
  failure: RecordedFailure;
}
