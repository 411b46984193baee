import { decideGate, shardRanges } from '../../workflows/round';

describe('round logic (pure parts of the workflow)', () => {
  it('splits questions into contiguous shards that cover every question once', () => {
    expect(shardRanges(0, 8)).toEqual([]);
    expect(shardRanges(5, 8)).toEqual([[0, 5]]);
    expect(shardRanges(17, 8)).toEqual([
      [0, 8],
      [8, 16],
      [16, 17],
    ]);
    for (const [count, size] of [
      [1000, 64],
      [64, 64],
      [65, 64],
    ]) {
      const ranges = shardRanges(count, size);
      expect(ranges.reduce((s, [a, b]) => s + (b - a), 0)).toBe(count);
      ranges.forEach(([a], i) => expect(a).toBe(i * size));
    }
  });

  it('promotes the base model, a better model, and one within the tolerance; not one beyond it', () => {
    expect(decideGate(0.4, null, 0.01, 0)).toMatchObject({ promoted: true, reason: 'base model' });
    expect(decideGate(0.5, 0.4, 0.01, 1)).toMatchObject({ promoted: true });
    expect(decideGate(0.395, 0.4, 0.01, 1)).toMatchObject({ promoted: true });
    const dropped = decideGate(0.35, 0.4, 0.01, 2);
    expect(dropped.promoted).toBe(false);
    expect(dropped.reason).toBe('accuracy fell 5.0 points below the best, beyond the tolerance of 1.0');
    expect(decideGate(0.39, 0.4, 0, 1).promoted).toBe(false);
  });
});
