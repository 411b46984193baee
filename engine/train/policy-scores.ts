import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { BadInputError } from '../../base/errors';
import { CHECKPOINT_FILES, loadCheckpoint } from '../checkpoint/checkpoint';
import type { LlamaConfig } from '../model/config';
import type { Sequence } from './batches';
import { TrainingAbortedError } from './errors';
import {
  OLD_LOGPROBS_FILE,
  REF_LOGPROBS_FILE,
  type ScoringLayout,
  encodeCompletionScores,
  readCompletionScores,
  scoreCompletions,
} from './log-probs';
import type { TrainingRunner } from './runner';

/** The files a policy update's unfinished checkpoints carry (log-probs.ts). */
export const POLICY_FILES: readonly string[] = [OLD_LOGPROBS_FILE, REF_LOGPROBS_FILE];

export interface PolicyScoresInput {
  sequences: readonly Sequence[];
  layout: ScoringLayout;
  /** The runner, holding the starting weights and its `logprobs` session (fresh runs). */
  runner: TrainingRunner;
  /** The trained model's shape: a reference must have the same. */
  config: LlamaConfig;
  /** The checkpoint a resumed run continues from (its files are read, nothing is scored), or null. */
  resumeDir: string | null;
  /** A KL reference other than the starting model: a checkpoint folder. */
  reference?: string;
  signal?: AbortSignal;
  onScoring?: (p: { scoredRows: number; totalRows: number }) => void | Promise<void>;
}

/**
 * The sequences with their π_old (and π_ref when a reference is given) log-probs, and the files
 * that keep them in the run's checkpoints. A fresh run scores them with the starting weights before
 * step 1; a resumed run reads them from its checkpoint, since the weights have moved since.
 */
export async function policyScores(
  x: PolicyScoresInput,
): Promise<{ sequences: Sequence[]; files: Record<string, Buffer> }> {
  let old: Float32Array[];
  let ref: Float32Array[] | null = null;
  if (x.resumeDir) {
    old = readCompletionScores(path.join(x.resumeDir, OLD_LOGPROBS_FILE), x.sequences);
    const refFile = path.join(x.resumeDir, REF_LOGPROBS_FILE);
    if (x.reference) ref = readCompletionScores(refFile, x.sequences);
    else if (existsSync(refFile))
      throw new BadInputError(
        refFile,
        null,
        '(file)',
        'the run was started with a reference model: resume it with the same `reference`',
      );
  } else {
    // With a reference the paths are scored twice; progress counts the rows of both passes.
    const passes = x.reference ? 2 : 1;
    const progress = (pass: number) => async (p: { scoredRows: number; totalRows: number }) => {
      if (x.signal?.aborted) throw new TrainingAbortedError(0, null);
      await x.onScoring?.({ scoredRows: pass * p.totalRows + p.scoredRows, totalRows: passes * p.totalRows });
    };
    old = await scoreCompletions(x.sequences, x.layout, (mb) => x.runner.tokenLogProbs(mb), progress(0));
    if (x.reference) {
      const reference = loadCheckpoint(x.reference, { weightsOnly: true });
      if (JSON.stringify(reference.config) !== JSON.stringify(x.config))
        throw new BadInputError(
          path.join(x.reference, CHECKPOINT_FILES.config),
          null,
          '(config)',
          "differs from the trained model's: the KL reference must be the same architecture",
        );
      ref = await scoreCompletions(
        x.sequences,
        x.layout,
        (mb) => x.runner.tokenLogProbs(mb, reference.params),
        progress(1),
      );
    }
  }
  const sequences = x.sequences.map((s, i) => ({
    ...s,
    oldLogProbs: old[i],
    ...(ref ? { refLogProbs: ref[i] } : {}),
  }));
  const files: Record<string, Buffer> = { [OLD_LOGPROBS_FILE]: encodeCompletionScores(old) };
  if (ref) files[REF_LOGPROBS_FILE] = encodeCompletionScores(ref);
  return { sequences, files };
}
