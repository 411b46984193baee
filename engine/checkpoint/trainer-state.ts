import { z } from 'zod';

/**
 * trainer_state.json: where a fine-tuning run stands, enough to continue it exactly. Field names
 * follow Hugging Face's Trainer where it has them (global_step, max_steps, log_history). The data
 * order is a pure function of (seed, epoch), so the random state is the seed plus the position.
 */
export const TrainerState = z
  .object({
    format: z.literal('lmsi-trainer-state/1'),
    /** Optimiser steps taken. */
    global_step: z.number().int().nonnegative(),
    max_steps: z.number().int().positive(),
    /** Epoch of the next step (0-based) and steps of it already taken: the data-order position. */
    epoch: z.number().int().nonnegative(),
    step_in_epoch: z.number().int().nonnegative(),
    /** Seed of the data order (the only random choice in training). */
    seed: z.union([z.number().int(), z.string()]),
    finished: z.boolean(),
    /** Completion and prompt tokens trained on (padding excluded). */
    tokens_seen: z.number().int().nonnegative(),
    /**
     * Older checkpoints only. Wall-clock time is not written any more: it made two bit-identical
     * trainings (one resumed after a crash) differ in this file and so in the model's content ref.
     */
    train_seconds: z.number().nonnegative().optional(),
    /** sha256 of the tokenised training and evaluation data: resuming on other data is refused. */
    data_fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
    /** The trainer's resolved configuration (validated by engine/train on resume). */
    args: z.record(z.string(), z.unknown()),
    log_history: z.array(
      z
        .object({
          step: z.number().int().positive(),
          loss: z.number(),
          learning_rate: z.number(),
          grad_norm: z.number(),
        })
        .strict(),
    ),
    eval_history: z.array(z.object({ step: z.number().int().nonnegative(), eval_loss: z.number() }).strict()),
  })
  .strict();

export type TrainerState = z.infer<typeof TrainerState>;
