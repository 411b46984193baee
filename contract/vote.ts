import type { FilterStats } from '../method/filter';
import type { LabelFreeHealth } from '../method/health';
import type { FilteringSettings, VotingSettings } from './config';
import type { TaskRef } from './task';

/** The input of voteAndFilter: the paper's steps 2 and 3 over a round's sampling shards. */
export interface VoteAndFilterInput {
  datasetRef: string;
  shardRefs: string[];
  task: TaskRef;
  weighting: VotingSettings['weighting'];
  filter: FilteringSettings;
  /** The previous round's VoteRecords, for the health's agreement with its majority answers. */
  previousVotesRef?: string | null;
}

export interface VoteAndFilterResult {
  /** JSONL of kept AnsweredPaths (the self-training set before formatting). */
  keptRef: string;
  /** JSONL of VoteRecords: every question's vote, which paths were kept and why the others were not. */
  votesRef: string;
  stats: FilterStats;
  /** Mean confidence of the questions that kept at least one path. */
  meanKeptConfidence: number | null;
  /** Label-free health of the round's samples (method/health.ts). Absent in rounds run before it. */
  health?: LabelFreeHealth;
}
