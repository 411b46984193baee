import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { BadInputError } from '../../method/errors';

/**
 * A model folder's tokenizer (tokenizer.json + tokenizer_config.json), loaded with
 * @huggingface/tokenizers, with the special ids the sampler and trainer need resolved once.
 */
export interface LoadedTokenizer {
  /** Token ids of text; with `bos`, the beginning-of-sequence token first when the model uses one. */
  encode(text: string, options?: { bos?: boolean }): number[];
  decode(ids: ArrayLike<number>, options?: { skipSpecial?: boolean }): string;
  bosId: number | null;
  eosId: number | null;
  padId: number;
  /** Largest token id + 1 (added tokens included): must not exceed the model's vocabulary. */
  vocabSize: number;
  tokenizer: Tokenizer;
}

type TokenField = string | { content: string } | null | undefined;

export function loadTokenizer(dir: string): LoadedTokenizer {
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const configFile = path.join(dir, 'tokenizer_config.json');
  if (!existsSync(tokenizerFile))
    throw new BadInputError(tokenizerFile, null, 'tokenizer.json', 'file not found');
  const tokenizerJson = readJson(tokenizerFile);
  const config = (existsSync(configFile) ? readJson(configFile) : {}) as Record<string, unknown>;
  const tokenizer = new Tokenizer(tokenizerJson, config);

  const idOf = (field: string): number | null => {
    const value = config[field] as TokenField;
    const content = typeof value === 'string' ? value : value?.content;
    if (!content) return null;
    const id = tokenizer.token_to_id(content);
    if (id === undefined)
      throw new BadInputError(
        configFile,
        null,
        field,
        `token ${JSON.stringify(content)} is not in the vocabulary`,
      );
    return id;
  };
  const bosId = idOf('bos_token');
  const eosId = idOf('eos_token');
  const padId = idOf('pad_token') ?? eosId ?? 0;
  // The BOS id to prepend, or null when the model does not use one (tokenizer_config add_bos_token).
  const prependedBos = config.add_bos_token === false ? null : bosId;
  let vocabSize = 0;
  for (const id of tokenizer.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);

  return {
    encode(text, options = {}) {
      // Special tokens are added here, not by the tokenizer's post-processor, so the behaviour is
      // the same for every tokenizer.json whatever its template says.
      const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
      return options.bos && prependedBos !== null ? [prependedBos, ...ids] : ids;
    },
    decode(ids, options = {}) {
      return tokenizer.decode(Array.from(ids), { skip_special_tokens: options.skipSpecial ?? true });
    },
    bosId,
    eosId,
    padId,
    vocabSize,
    tokenizer,
  };
}

function readJson(file: string): object {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as object;
  } catch (e) {
    throw new BadInputError(file, null, '(json)', (e as Error).message);
  }
}
