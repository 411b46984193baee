import { createHash } from 'node:crypto';

/**
 * Seeds and random streams. Every random choice in lmsi draws from a stream whose seed is derived
 * from names (run, round, question, path index), never from time or call order, so a resumed run
 * reproduces an uninterrupted one and two workers sampling different shards cannot disturb each other.
 */

/** A 32-bit seed derived from any list of parts, e.g. deriveSeed(runId, round, questionId, pathIndex). */
export function deriveSeed(...parts: (string | number)[]): number {
  const h = createHash('sha256').update(parts.map(String).join('\u241f')).digest();
  return h.readUInt32LE(0);
}

/** mulberry32: tiny, fast, well-distributed for sampling and shuffling (not for cryptography). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[Math.floor(this.next() * items.length)];
  }
  /** Fisher-Yates, returning a new array. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}
