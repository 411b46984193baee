import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { BadInputError } from '../../base/errors';

/**
 * A model folder's tokenizer (tokenizer.json + tokenizer_config.json, and special_tokens_map.json
 * where an older folder keeps its special tokens there), loaded with @huggingface/tokenizers and
 * read the way transformers reads it: optional sections may be absent, added tokens in text are
 * single tokens, BOS comes from the post-processor unless tokenizer_config says otherwise.
 */
export interface LoadedTokenizer {
  /**
   * Token ids of text, without the tokenizer's special tokens; with `bos`, the tokens transformers
   * puts before a text (`prefixIds`, i.e. BOS for the models that use one) first, unless the text
   * already begins with them (a chat template that writes `{{ bos_token }}`): never twice.
   */
  encode(text: string, options?: { bos?: boolean }): number[];
  decode(ids: ArrayLike<number>, options?: { skipSpecial?: boolean }): string;
  /** tokenizer_config's bos_token (null when it has none). */
  bosId: number | null;
  /** tokenizer_config's eos_token (null when it has none). */
  eosId: number | null;
  padId: number;
  /**
   * What transformers puts before a text with add_special_tokens: the special tokens before `$A` in
   * the post-processor's `single` template, or [bos] / [] where tokenizer_config sets add_bos_token.
   */
  prefixIds: readonly number[];
  /** Added tokens marked special, and the named special tokens (bos, eos, pad, unk, additional). */
  specialIds: ReadonlySet<number>;
  /** Largest token id + 1 (added tokens included): must not exceed the model's vocabulary. */
  vocabSize: number;
  /** tokenizer_config.json (merged with special_tokens_map.json) as read: chat_template, names. */
  config: Readonly<Record<string, unknown>>;
  /** The named special tokens' text, as chat templates receive them (bos_token, eos_token, ...). */
  specialTokens: Readonly<Record<string, string>>;
  tokenizer: Tokenizer;
}

/** A special token in tokenizer_config: its text, or transformers' serialised AddedToken. */
const TokenField = z.union([z.string(), z.object({ content: z.string() }).loose(), z.null()]).optional();

const TokenizerConfig = z
  .object({
    bos_token: TokenField,
    eos_token: TokenField,
    pad_token: TokenField,
    unk_token: TokenField,
    sep_token: TokenField,
    cls_token: TokenField,
    mask_token: TokenField,
    additional_special_tokens: z
      .array(z.union([z.string(), z.object({ content: z.string() }).loose()]))
      .optional(),
    add_bos_token: z.boolean().nullable().optional(),
    add_eos_token: z.boolean().nullable().optional(),
    clean_up_tokenization_spaces: z.boolean().nullable().optional(),
  })
  .loose();

const AddedToken = z
  .object({
    id: z.number().int().nonnegative(),
    content: z.string(),
    special: z.boolean().optional(),
  })
  .loose();

const TokenizerJson = z
  .object({
    model: z.object({}).loose(),
    added_tokens: z.array(AddedToken).nullable().optional(),
    normalizer: z.unknown().optional(),
    pre_tokenizer: z.unknown().optional(),
    post_processor: z.unknown().optional(),
    decoder: z.unknown().optional(),
  })
  .loose();

/** The names transformers passes a chat template, besides additional_special_tokens. */
export const SPECIAL_TOKEN_NAMES = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;

const contentOf = (v: z.infer<typeof TokenField> | { content: string }): string | null =>
  v === undefined || v === null ? null : typeof v === 'string' ? v : v.content;

export function loadTokenizer(dir: string): LoadedTokenizer {
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const configFile = path.join(dir, 'tokenizer_config.json');
  const mapFile = path.join(dir, 'special_tokens_map.json');
  if (!existsSync(tokenizerFile))
    throw new BadInputError(tokenizerFile, null, 'tokenizer.json', 'file not found');
  const json = parseWith(TokenizerJson, readJson(tokenizerFile), tokenizerFile);
  const rawConfig = existsSync(configFile) ? readJson(configFile) : {};
  // transformers lets special_tokens_map.json override tokenizer_config's special tokens.
  const rawMap = existsSync(mapFile) ? readJson(mapFile) : {};
  const config = parseWith(
    TokenizerConfig,
    { ...rawConfig, ...rawMap },
    existsSync(configFile) ? configFile : mapFile,
  );

  const specialTokens: Record<string, string> = {};
  for (const name of SPECIAL_TOKEN_NAMES) {
    const content = contentOf(config[name]);
    if (content) specialTokens[name] = content;
  }
  const additional = (config.additional_special_tokens ?? []).map((t) => contentOf(t)!);

  // The library requires every section and the added-token list; tokenizer.json may omit them
  // (the Rust tokenizers read a missing section as none). decode skips what it lists as special:
  // the named special tokens join the added ones there, as in transformers' all_special_ids.
  const complete = {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    ...json,
    decoder: json.decoder ?? inferredDecoder(json),
    added_tokens: json.added_tokens ?? [],
  };
  const libraryConfig = {
    ...config,
    additional_special_tokens: [...new Set([...Object.values(specialTokens), ...additional])],
    // transformers' default since 4.45; the library's default is true.
    clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? false,
  };
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(complete, libraryConfig);
  } catch (e) {
    throw new BadInputError(tokenizerFile, null, '(tokenizer)', (e as Error).message);
  }

  const idOf = (field: string, content: string | undefined): number | null => {
    if (!content) return null;
    const id = tokenizer.token_to_id(content);
    if (id === undefined)
      throw new BadInputError(
        configFile,
        null,
        field,
        `token ${JSON.stringify(content)} is not in the vocabulary of ${tokenizerFile}`,
      );
    return id;
  };
  const bosId = idOf('bos_token', specialTokens.bos_token);
  const eosId = idOf('eos_token', specialTokens.eos_token);
  // A pad token outside the vocabulary is one transformers would add; padding positions carry no
  // loss and no attention here, so eos serves as well.
  const padContent = specialTokens.pad_token;
  const padId = (padContent ? tokenizer.token_to_id(padContent) : undefined) ?? eosId ?? 0;

  const specialIds = new Set<number>();
  for (const t of complete.added_tokens) if (t.special) specialIds.add(t.id);
  for (const content of [...Object.values(specialTokens), ...additional]) {
    const id = tokenizer.token_to_id(content);
    if (id !== undefined) specialIds.add(id);
  }

  const prefixIds = leadingSpecialIds(tokenizerFile, configFile, complete.post_processor, config, bosId);
  let vocabSize = 0;
  for (const id of tokenizer.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);

  return {
    encode(text, options = {}) {
      // Special tokens are added here, not by the library's post-processor, so that a text that
      // already starts with them (a rendered chat template) does not get them twice.
      const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
      if (!options.bos || prefixIds.length === 0 || startsWith(ids, prefixIds)) return ids;
      return [...prefixIds, ...ids];
    },
    decode(ids, options = {}) {
      const list = Array.from(ids);
      // The library refuses an empty list; transformers decodes it to ''.
      if (list.length === 0) return '';
      return tokenizer.decode(list, { skip_special_tokens: options.skipSpecial ?? true });
    },
    bosId,
    eosId,
    padId,
    prefixIds,
    specialIds,
    vocabSize,
    config: { ...rawConfig, ...rawMap },
    specialTokens,
    tokenizer,
  };
}

/**
 * A decoder for a tokenizer.json that has none. Without one, transformers (4.57) decodes by joining
 * the tokens with spaces ("H ow Ġmany"): no answer could be read from such text. The decoder that
 * inverts the pre-tokenizer gives the text back instead: ByteLevel for a byte-level pre-tokenizer,
 * Metaspace (with byte fallback where the model has it) for a SentencePiece-style one, and the
 * Llama converter's decoder for the legacy normalizer that writes "▁" for spaces. Encoding is
 * unaffected.
 */
function inferredDecoder(json: z.infer<typeof TokenizerJson>): object | null {
  const parts = (v: unknown, key: string): Record<string, unknown>[] => {
    if (v === null || typeof v !== 'object') return [];
    const o = v as Record<string, unknown>;
    return o.type === 'Sequence' && Array.isArray(o[key])
      ? (o[key] as unknown[]).flatMap((x) => parts(x, key))
      : [o];
  };
  const pre = parts(json.pre_tokenizer, 'pretokenizers');
  if (pre.some((p) => p.type === 'ByteLevel')) return { type: 'ByteLevel' };
  const byteFallback = json.model.byte_fallback === true;
  const sentencePiece = (replacement: string, strip: boolean) => ({
    type: 'Sequence',
    decoders: [
      { type: 'Replace', pattern: { String: replacement }, content: ' ' },
      ...(byteFallback ? [{ type: 'ByteFallback' }] : []),
      { type: 'Fuse' },
      ...(strip ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
    ],
  });
  const metaspace = pre.find((p) => p.type === 'Metaspace');
  if (metaspace !== undefined) {
    const replacement = typeof metaspace.replacement === 'string' ? metaspace.replacement : '\u2581';
    return sentencePiece(
      replacement,
      metaspace.prepend_scheme !== 'never' && metaspace.add_prefix_space !== false,
    );
  }
  const norm = parts(json.normalizer, 'normalizers');
  const legacy = norm.find((n) => n.type === 'Replace' && n.content === '\u2581');
  if (legacy !== undefined)
    return sentencePiece(
      '\u2581',
      norm.some((n) => n.type === 'Prepend'),
    );
  return null;
}

/**
 * The special tokens transformers puts before a text. tokenizer_config's add_bos_token, where set,
 * rewrites the post-processor (as transformers' Llama-family tokenizers and its tokenizers backend
 * do); otherwise tokenizer.json's post-processor decides: the special tokens ahead of `$A` in a
 * TemplateProcessing's `single` (also inside a Sequence of processors, as Llama 3 has), or the
 * `cls` token of a Bert/Roberta processor.
 */
function leadingSpecialIds(
  tokenizerFile: string,
  configFile: string,
  postProcessor: unknown,
  config: z.infer<typeof TokenizerConfig>,
  bosId: number | null,
): number[] {
  if (typeof config.add_bos_token === 'boolean') {
    if (!config.add_bos_token) return [];
    if (bosId === null)
      throw new BadInputError(
        configFile,
        null,
        'add_bos_token',
        'add_bos_token is true but there is no bos_token',
      );
    return [bosId];
  }
  return templatePrefix(tokenizerFile, postProcessor);
}

const TemplateItem = z.union([
  z.object({ SpecialToken: z.object({ id: z.string() }).loose() }),
  z.object({ Sequence: z.object({ id: z.string() }).loose() }),
]);
const TemplateProcessing = z
  .object({
    type: z.literal('TemplateProcessing'),
    single: z.array(TemplateItem),
    special_tokens: z.record(z.string(), z.object({ ids: z.array(z.number().int()) }).loose()),
  })
  .loose();

function templatePrefix(file: string, processor: unknown): number[] {
  if (processor === null || typeof processor !== 'object') return [];
  const p = processor as { type?: unknown; processors?: unknown; cls?: unknown };
  switch (p.type) {
    case 'Sequence':
      return Array.isArray(p.processors) ? p.processors.flatMap((q) => templatePrefix(file, q)) : [];
    case 'TemplateProcessing': {
      const t = parseWith(TemplateProcessing, processor, file, 'post_processor');
      const ids: number[] = [];
      for (const item of t.single) {
        if ('Sequence' in item) break;
        const special = t.special_tokens[item.SpecialToken.id];
        if (special === undefined)
          throw new BadInputError(
            file,
            null,
            'post_processor.special_tokens',
            `the template names ${JSON.stringify(item.SpecialToken.id)} but special_tokens has no entry for it`,
          );
        ids.push(...special.ids);
      }
      return ids;
    }
    case 'BertProcessing':
    case 'RobertaProcessing':
      return Array.isArray(p.cls) && typeof p.cls[1] === 'number' ? [p.cls[1]] : [];
    default:
      return [];
  }
}

function startsWith(ids: readonly number[], prefix: readonly number[]): boolean {
  return prefix.every((id, i) => ids[i] === id);
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown, file: string, at = ''): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = [at, ...issue.path.map(String)].filter((s) => s !== '').join('.');
  throw new BadInputError(file, null, field || '(root)', issue.message);
}

function readJson(file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BadInputError(file, null, '(json)', (e as Error).message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new BadInputError(file, null, '(root)', 'expected a JSON object');
  return value as Record<string, unknown>;
}
