/**
 * Logits processors rewrite one row's next-token logits in place (a removed token gets -Infinity);
 * stopping criteria watch the tokens a row has chosen and say when and why it ends. Both are
 * composable lists built once per sampling call and shared by every row, so they keep no per-row state
 * except through `start`.
 */

/** What a processor may look at for one row. */
export interface RowHistory {
  readonly promptIds: readonly number[];
  readonly completionIds: readonly number[];
}

export interface LogitsProcessor {
  readonly name: string;
  apply(logits: Float32Array, row: RowHistory): void;
}

export type FinishReason = 'stop' | 'eos' | 'length';

/** One row's view of a stopping criterion; `push` is called once per chosen token, in order. */
export interface RowStopper {
  push(tokenId: number): FinishReason | null;
}

export interface StoppingCriterion {
  readonly name: string;
  start(promptIds: readonly number[]): RowStopper;
}

export function requireParam(ok: boolean, processor: string, problem: string): void {
  if (!ok) throw new RangeError(`${processor}: ${problem}`);
}
