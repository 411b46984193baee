// Math's function read once: inside jest's vm context every global lookup in a loop of a million
// values is slow (base/rng.ts's Rng looks Math up on every draw).
const { imul } = Math;

/**
 * mulberry32 as a closure: uniforms in [0, 1) from `seed`, for tests that draw random logits over
 * whole vocabularies. Not base/rng.ts's stream: a test seeds it from one (rng.int(1, 2 ** 31 - 1)).
 */
export function fastUniform(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = imul(a ^ (a >>> 15), 1 | a);
    t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
