import type { LoadedTokenizer } from '../tokenizer/load';

/**
 * Tokens of the prompt decoded together with the completion, so that the completion's first token
 * gets the spacing it has after the prompt (SentencePiece strips the leading space of a sequence's
 * first token; byte-level tokenizers can split a character across the boundary).
 */
const CONTEXT_TOKENS = 4;

/**
 * The text a completion adds after its prompt, decoded incrementally: each new token decodes a window
 * of a few tokens (vLLM's prefix/read offsets) instead of the whole completion, and text is released
 * only when it does not end in an incomplete UTF-8 sequence (U+FFFD).
 */
export class IncrementalDetokenizer {
  private readonly ids: number[];
  private prefixOffset = 0;
  private readOffset: number;
  text = '';

  constructor(
    private readonly tokenizer: LoadedTokenizer,
    promptIds: readonly number[],
  ) {
    this.ids = promptIds.slice(-CONTEXT_TOKENS);
    this.readOffset = this.ids.length;
  }

  /** Appends a token; returns the text it completed ('' while a character is still incomplete). */
  push(tokenId: number): string {
    this.ids.push(tokenId);
    const prefix = this.decode(this.prefixOffset, this.readOffset);
    const full = this.decode(this.prefixOffset, this.ids.length);
    if (full.length <= prefix.length || full.endsWith('\uFFFD') || !full.startsWith(prefix)) return '';
    const delta = full.slice(prefix.length);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    this.text += delta;
    return delta;
  }

  private decode(from: number, to: number): string {
    return this.tokenizer.decode(this.ids.slice(from, to), { skipSpecial: true });
  }
}

/** The completion's whole text, decoded once at the end, with the same prompt context. */
export function decodeCompletion(
  tokenizer: LoadedTokenizer,
  promptIds: readonly number[],
  completionIds: readonly number[],
): string {
  const context = promptIds.slice(-CONTEXT_TOKENS);
  const prefix = tokenizer.decode(context, { skipSpecial: true });
  const full = tokenizer.decode([...context, ...completionIds], { skipSpecial: true });
  return full.startsWith(prefix) ? full.slice(prefix.length) : tokenizer.decode(completionIds);
}
