/**
 * The built-in models' tokenizer: one token per character, written as a standard Hugging Face
 * `tokenizer.json` (a BPE model with no merges is exactly a character vocabulary) so it loads through
 * @huggingface/tokenizers like any other tokenizer and other tools can read our checkpoints.
 */

export const SPECIAL_TOKENS = { pad: '<pad>', bos: '<s>', eos: '</s>', unk: '<unk>' } as const;

/** Every character the arith task and the paper's prompt templates use. */
export const DEFAULT_ALPHABET =
  ' \nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:?!\'"()+-*/=$%#<>&_[]';

export interface TokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

export function buildCharTokenizerFiles(alphabet: string = DEFAULT_ALPHABET): TokenizerFiles {
  const chars = [...new Set([...alphabet])];
  if (chars.length !== [...alphabet].length)
    throw new Error('buildCharTokenizerFiles: alphabet repeats a character');
  const specials = [SPECIAL_TOKENS.pad, SPECIAL_TOKENS.bos, SPECIAL_TOKENS.eos, SPECIAL_TOKENS.unk];
  const vocab: Record<string, number> = {};
  [...specials, ...chars].forEach((token, id) => (vocab[token] = id));
  const addedToken = (content: string) => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map(addedToken),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: SPECIAL_TOKENS.bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: SPECIAL_TOKENS.bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
      ],
      special_tokens: {
        [SPECIAL_TOKENS.bos]: {
          id: SPECIAL_TOKENS.bos,
          ids: [vocab[SPECIAL_TOKENS.bos]],
          tokens: [SPECIAL_TOKENS.bos],
        },
      },
    },
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: SPECIAL_TOKENS.unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: SPECIAL_TOKENS.bos,
    eos_token: SPECIAL_TOKENS.eos,
    pad_token: SPECIAL_TOKENS.pad,
    unk_token: SPECIAL_TOKENS.unk,
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: 1024,
  };
  return { tokenizerJson, tokenizerConfig };
}
