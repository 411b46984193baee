import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { BadInputError } from '../../base/errors';
import type { LlamaConfig } from '../model/config';
import { LORA_MODULES, LoraConfig, type LoraModule, fromPeftName, loraSpecs, peftName } from '../model/lora';
import type { Params } from '../model/params';
import { type NamedTensor, encodeSafetensors, readSafetensors } from './safetensors';
import { toFloat32 } from './weights';

/**
 * LoRA adapters in PEFT's layout: a folder with adapter_config.json and adapter_model.safetensors
 * (`base_model.model.<module>.lora_A.weight`, ...), what `PeftModel.from_pretrained(base, dir)` loads.
 * A checkpoint keeps its adapters in its `adapter/` subfolder (an adapter_config.json at the top would
 * make transformers treat the model folder itself as an adapter).
 */
export const ADAPTER_DIR = 'adapter';
export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

const SHORT_NAMES = Object.fromEntries(
  Object.entries(LORA_MODULES).map(([short, full]) => [full.split('.')[1], short as LoraModule]),
) as Record<string, LoraModule>;

/** adapter_config.json as PEFT writes it for this adapter. */
export function adapterConfigJson(l: LoraConfig, base: string | null): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: base,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: l.alpha,
    lora_dropout: l.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: l.rank,
    rank_pattern: {},
    revision: null,
    target_modules: l.targetModules.map((m) => LORA_MODULES[m].split('.')[1]).sort(),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  };
}

/** The adapter files (name → bytes) of a checkpoint's adapter folder. */
export function encodeAdapter(
  c: LlamaConfig,
  l: LoraConfig,
  adapters: Params,
  base: string | null,
): Record<string, Buffer | string> {
  const tensors: Record<string, NamedTensor> = {};
  for (const s of loraSpecs(c, l)) {
    const data = adapters.get(s.name);
    if (!data) throw new Error(`encodeAdapter: missing ${s.name}`);
    tensors[peftName(s.name)] = { dtype: 'F32', shape: [...s.shape], data };
  }
  return {
    [ADAPTER_CONFIG]: JSON.stringify(adapterConfigJson(l, base), null, 2) + '\n',
    [ADAPTER_WEIGHTS]: encodeSafetensors(tensors, { format: 'pt' }),
  };
}

const PeftConfig = z
  .object({
    peft_type: z.literal('LORA'),
    r: z.number().int().positive(),
    lora_alpha: z.number().positive(),
    lora_dropout: z.number().min(0).lt(1).default(0),
    target_modules: z.union([z.array(z.string()), z.string()]),
    bias: z.literal('none').default('none'),
    fan_in_fan_out: z.literal(false).default(false),
    use_rslora: z.literal(false).default(false),
    use_dora: z.literal(false).default(false),
    lora_bias: z.literal(false).optional(),
    target_parameters: z.null().optional(),
    trainable_token_indices: z.null().optional(),
    exclude_modules: z.null().optional(),
    layers_to_transform: z.null().optional(),
    modules_to_save: z.null().optional(),
    rank_pattern: z.record(z.string(), z.unknown()).optional(),
    alpha_pattern: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

/** A PEFT LoRA folder's config and weights, checked against the model they adapt. */
export function readAdapter(dir: string, c: LlamaConfig): { lora: LoraConfig; params: Params } {
  const configFile = path.join(dir, ADAPTER_CONFIG);
  const weightsFile = path.join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(configFile)) throw new BadInputError(configFile, null, '(file)', 'not found');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (e) {
    throw new BadInputError(configFile, null, '(json)', (e as Error).message);
  }
  const parsed = PeftConfig.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadInputError(configFile, null, issue.path.join('.') || '(root)', issue.message);
  }
  const p = parsed.data;
  for (const field of ['rank_pattern', 'alpha_pattern'] as const)
    if (p[field] && Object.keys(p[field]).length > 0)
      throw new BadInputError(configFile, null, field, 'per-module ranks and alphas are not supported');
  if (typeof p.target_modules === 'string')
    throw new BadInputError(
      configFile,
      null,
      'target_modules',
      'a regular expression is not supported: list the modules',
    );
  const targetModules = p.target_modules.map((m) => {
    const short = SHORT_NAMES[m];
    if (!short)
      throw new BadInputError(
        configFile,
        null,
        'target_modules',
        `${JSON.stringify(m)} is not one of ${Object.keys(SHORT_NAMES).join(', ')}`,
      );
    return short;
  });
  const lora = LoraConfig.parse({
    rank: p.r,
    alpha: p.lora_alpha,
    dropout: p.lora_dropout,
    targetModules: [...new Set(targetModules)],
  });
  if (!existsSync(weightsFile)) throw new BadInputError(weightsFile, null, '(file)', 'not found');
  const { tensors } = readSafetensors(weightsFile);
  const params: Params = new Map();
  const expected = new Set<string>();
  for (const s of loraSpecs(c, lora)) {
    // PEFT saves without the adapter name; some tools keep `.default` before `.weight`.
    const key = peftName(s.name);
    const t = tensors[key] ?? tensors[key.replace(/\.weight$/, '.default.weight')];
    expected.add(key);
    if (!t) throw new BadInputError(weightsFile, null, key, 'missing');
    if (t.shape.join(',') !== s.shape.join(','))
      throw new BadInputError(weightsFile, null, key, `shape [${t.shape}] but the config needs [${s.shape}]`);
    params.set(s.name, new Float32Array(toFloat32(t, weightsFile, key)));
  }
  for (const key of Object.keys(tensors))
    if (!expected.has(key.replace('.default.weight', '.weight')) || fromPeftName(key) === null)
      throw new BadInputError(weightsFile, null, key, 'not an adapter weight of this model and config');
  return { lora, params };
}
