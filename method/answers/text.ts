/** A loose comparison key for short answers: lower-case letters and digits, single spaces. Idempotent. */
export function textKey(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** Free-text answers (custom text tasks): lower-cased, whitespace collapsed, end punctuation dropped. */
export function normalizeText(answer: string): string {
  return answer
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/^[\s"'“”‘’([]+|[\s"'“”‘’)\].,;:!?]+$/g, '')
    .trim();
}
