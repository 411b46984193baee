import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BadInputError } from '../../base/errors';
import { CHECKPOINT_FILES, type Checkpoint } from '../checkpoint/checkpoint';
import type { TrainerState } from '../checkpoint/trainer-state';
import { CADENCE_FIELDS, FineTuneConfig } from './config';

/** Checks that the checkpoint to resume from was saved by a run with this config and data. */
export function checkResumable(
  dir: string,
  ckpt: Checkpoint,
  cfg: FineTuneConfig,
  dataFingerprint: string,
): TrainerState {
  const stateFile = path.join(dir, CHECKPOINT_FILES.trainerState);
  if (!ckpt.trainerState || !ckpt.optimizer)
    throw new BadInputError(stateFile, null, '(file)', 'not found: this checkpoint cannot be resumed');
  // Defaults filled in, so a run saved before an option existed resumes under its default.
  const filled = FineTuneConfig.safeParse(ckpt.trainerState.args);
  const saved = (filled.success ? filled.data : ckpt.trainerState.args) as Record<string, unknown>;
  for (const key of Object.keys(FineTuneConfig.shape) as (keyof FineTuneConfig)[]) {
    if (CADENCE_FIELDS.includes(key)) continue;
    if (JSON.stringify(saved[key]) !== JSON.stringify(cfg[key]))
      throw new BadInputError(
        stateFile,
        null,
        `args.${key}`,
        `the run was started with ${JSON.stringify(saved[key])}, this call asks for ${JSON.stringify(cfg[key])}`,
      );
  }
  if (ckpt.trainerState.data_fingerprint !== dataFingerprint)
    throw new BadInputError(
      stateFile,
      null,
      'data_fingerprint',
      'the examples (or tokenizer) differ from those the run started with',
    );
  return ckpt.trainerState;
}

/** The folder whose trainer_state.json has the highest global_step (an unreadable one wins, so its error shows). */
export function newestResumable(dirs: readonly string[]): string | null {
  let best: string | null = null;
  let bestStep = -1;
  for (const dir of dirs) {
    const file = path.join(dir, CHECKPOINT_FILES.trainerState);
    if (!existsSync(file)) continue;
    let step = Infinity;
    try {
      const v = (JSON.parse(readFileSync(file, 'utf8')) as { global_step?: unknown }).global_step;
      if (typeof v === 'number') step = v;
    } catch {
      // loadCheckpoint reports the file properly.
    }
    if (step > bestStep) [best, bestStep] = [dir, step];
  }
  return best;
}
