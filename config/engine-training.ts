import type { z } from 'zod';
import type { FineTuneConfigInput } from '../engine/train/config';
import type { PackingMode, TrainingConfig } from './campaign';

/**
 * The training section as fine-tuning takes it: one round's settings (fromRound applied, so absent)
 * without replayRatio (the training set's). `packing` is absent in campaigns started before it.
 */
export type EngineTrainingSettings = Omit<
  z.output<typeof TrainingConfig>,
  'fromRound' | 'replayRatio' | 'packing'
> & { packing?: PackingMode };

/** What the run adds to the section: the data order's seed, and the settings only a caller knows. */
export interface EngineTrainingRun {
  seed: FineTuneConfigInput['seed'];
  /** Tokens per row instead of the section's maxSeqLen (lmsi finetune's --seq-len). */
  seqLen?: number;
  /** strategy 'ttrl': the update is GRPO with these options (loss 'grpo'). */
  grpo?: NonNullable<FineTuneConfigInput['grpo']>;
}

/**
 * The engine's fine-tune config (engine/train/config.ts) from the campaign's training section, the
 * one mapping the fineTune/policyUpdate activities and `lmsi finetune` share, so a field added to
 * the section reaches the engine the same way from both. A setting left absent stays absent, so the
 * engine's default applies (packing: next-fit for campaigns started before the field).
 */
export function engineTrainingConfig(t: EngineTrainingSettings, run: EngineTrainingRun): FineTuneConfigInput {
  const seqLen = run.seqLen ?? t.maxSeqLen;
  return {
    ...(t.epochs === undefined ? { steps: t.steps } : { epochs: t.epochs }),
    learningRate: t.learningRate,
    batchSize: t.batchSize,
    gradientAccumulation: t.gradientAccumulation,
    warmupSteps: t.warmupSteps,
    weightDecay: t.weightDecay,
    checkpointEvery: t.checkpointEvery,
    ...(t.packing === undefined ? {} : { packing: t.packing === 'none' ? false : t.packing }),
    ...(seqLen === undefined ? {} : { seqLen }),
    ...(t.method === undefined ? {} : { method: t.method }),
    ...(t.lora === undefined ? {} : { lora: t.lora }),
    ...(t.recompute === undefined ? {} : { recompute: t.recompute }),
    ...(run.grpo === undefined ? {} : { loss: 'grpo' as const, grpo: run.grpo }),
    seed: run.seed,
  };
}

/** `lmsi finetune`'s flags: each replaces the section's setting (absent: the section's stands). */
export type TrainingFlags = Partial<
  Pick<
    EngineTrainingSettings,
    | 'epochs'
    | 'steps'
    | 'learningRate'
    | 'batchSize'
    | 'gradientAccumulation'
    | 'warmupSteps'
    | 'weightDecay'
    | 'checkpointEvery'
    | 'packing'
    | 'method'
    | 'recompute'
  >
> & {
  /** LoRA's settings as typed (the module names are checked when the result is parsed). */
  lora?: { rank?: number; alpha?: number; dropout?: number; targetModules?: string[] };
};

/**
 * A training section with `lmsi finetune`'s flags on top, still to be parsed with TrainingConfig
 * (so a flag is checked as the config's field is). --epochs replaces the section's steps and vice
 * versa, as training.fromRound does; neither given anywhere: one epoch. fromRound and replayRatio
 * are a campaign's (rounds, a training set), not one fine-tuning run's: dropped.
 */
export function withTrainingFlags(
  base: Record<string, unknown>,
  flags: TrainingFlags,
): Record<string, unknown> {
  const { lora, ...rest } = flags;
  const merged: Record<string, unknown> = { ...base };
  if (rest.epochs !== undefined) delete merged.steps;
  if (rest.steps !== undefined) delete merged.epochs;
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) merged[k] = v;
  if (merged.epochs === undefined && merged.steps === undefined) merged.epochs = 1;
  const loraFlags = Object.fromEntries(Object.entries(lora ?? {}).filter(([, v]) => v !== undefined));
  if (Object.keys(loraFlags).length > 0) merged.lora = { ...(merged.lora ?? {}), ...loraFlags };
  delete merged.fromRound;
  delete merged.replayRatio;
  return merged;
}
