/**
 * The failure types lmsi's activities and workflows raise (ApplicationFailure.type), named once:
 * activities/failures.ts raises them, workflows/presets.ts stops retrying the non-retryable ones, and
 * clients read them from a failed campaign.
 */
export const FailureType = {
  /** A malformed input (dataset line, config, model folder), named by file, line and field. */
  BadInput: 'BadInput',
  /** An artifact whose bytes do not match its ref. */
  ArtifactCorrupt: 'ArtifactCorrupt',
  /** A ref that names nothing inside the artifact store. */
  InvalidRef: 'InvalidRef',
  /** Invalid parameters (a prompt longer than the model's context, a bad sampling option). */
  InvalidArgument: 'InvalidArgument',
  /** Seeded training diverged (a non-finite loss): every retry would diverge at the same step. */
  TrainingDiverged: 'TrainingDiverged',
  /** The artifact store is full or read-only: an operator must free space or fix permissions. */
  ArtifactStoreUnwritable: 'ArtifactStoreUnwritable',
  /** A round's vote kept too few paths to train on (gate.minKeptFraction, gate.stopWhenNothingKept). */
  NothingKept: 'NothingKept',
  /** A round ran before rounds were recorded in the artifact store: its lineage cannot be read. */
  RoundNotRecorded: 'RoundNotRecorded',
  /** recordRound was scheduled without the round's result (by a campaign run before rounds passed it). */
  RoundResultMissing: 'RoundResultMissing',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/**
 * Failure types a retry cannot fix: bad input naming file/line/field, a corrupt artifact, a ref
 * outside the store, invalid parameters. (The others above are raised non-retryable where they occur.)
 */
export const NON_RETRYABLE_TYPES: string[] = [
  FailureType.BadInput,
  FailureType.ArtifactCorrupt,
  FailureType.InvalidRef,
  FailureType.InvalidArgument,
];
