import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { BadInputError } from '../../base/errors';

/** The few config.json fields the sampler uses; everything else a model family writes is ignored. */
const SamplerConfigJson = z
  .object({
    vocab_size: z.number().int().positive().nullable().optional(),
    max_position_embeddings: z.number().int().positive().nullable().optional(),
    num_attention_heads: z.number().int().positive().nullable().optional(),
    num_key_value_heads: z.number().int().positive().nullable().optional(),
    hidden_size: z.number().int().positive().nullable().optional(),
    head_dim: z.number().int().positive().nullable().optional(),
    eos_token_id: z
      .union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative()), z.null()])
      .optional(),
  })
  .loose();

export type SamplerConfigJson = z.infer<typeof SamplerConfigJson>;

/** config.json of a model folder, or an empty config when the folder has none (e.g. a bare export). */
export function readSamplerConfigJson(dir: string): { file: string | null; config: SamplerConfigJson } {
  const file = path.join(dir, 'config.json');
  if (!existsSync(file)) return { file: null, config: {} };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BadInputError(file, null, '(json)', (e as Error).message);
  }
  const parsed = SamplerConfigJson.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadInputError(file, null, issue.path.join('.') || '(root)', issue.message);
  }
  return { file, config: parsed.data };
}

/** Head size and KV head count as config.json states them, for graphs that leave them symbolic. */
export function cacheDimsFromConfig(c: SamplerConfigJson): { kvHeads?: number; headDim?: number } {
  const heads = c.num_attention_heads;
  return {
    kvHeads: c.num_key_value_heads ?? heads ?? undefined,
    headDim: c.head_dim ?? (c.hidden_size && heads ? c.hidden_size / heads : undefined),
  };
}

const GenerationConfig = z.object({ eos_token_id: SamplerConfigJson.shape.eos_token_id }).loose();

/**
 * generation_config.json's eos_token_id (a list in Llama 3 instruct models: <|end_of_text|> and
 * <|eot_id|>), which transformers' generate stops on; empty when the folder has no such file.
 */
export function eosIdsFromGenerationConfig(dir: string): number[] {
  const file = path.join(dir, 'generation_config.json');
  if (!existsSync(file)) return [];
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BadInputError(file, null, '(json)', (e as Error).message);
  }
  const parsed = GenerationConfig.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadInputError(file, null, issue.path.join('.') || '(root)', issue.message);
  }
  return eosIdsFromConfig(parsed.data);
}

export function eosIdsFromConfig(c: Pick<SamplerConfigJson, 'eos_token_id'>): number[] {
  const v = c.eos_token_id;
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}
