import { z } from 'zod';

/**
 * LoRA's options, in a module of their own (zod only) so the campaign config can declare them
 * without loading the engine.
 */

/** The projections LoRA may adapt, by the short names the config uses. */
export const LORA_MODULES = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
} as const;
export type LoraModule = keyof typeof LORA_MODULES;

export const LoraConfig = z
  .object({
    /** Rank r of the update. */
    rank: z.number().int().positive().default(8),
    /** The update is scaled by alpha / rank (PEFT's lora_alpha). */
    alpha: z.number().positive().default(16),
    /** Dropout on the adapter's input (PEFT's lora_dropout); 0 turns it off. */
    dropout: z.number().min(0).lt(1).default(0),
    /** Which projections of every layer get an adapter (PEFT's target_modules). */
    targetModules: z
      .array(z.enum(Object.keys(LORA_MODULES) as [LoraModule, ...LoraModule[]]))
      .min(1)
      .default(['q', 'k', 'v', 'o', 'gate', 'up', 'down'])
      // One order whatever order they were given in, so configs that mean the same compare equal.
      .transform((ms) => (Object.keys(LORA_MODULES) as LoraModule[]).filter((m) => ms.includes(m))),
  })
  .strict();
export type LoraConfig = z.infer<typeof LoraConfig>;
export type LoraConfigInput = z.input<typeof LoraConfig>;
