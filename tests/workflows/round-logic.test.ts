import { parsedTraining } from '../../testing/campaign-config';
import { decideGate, trainingForRound } from '../../workflows/round-rules';
import { shardRanges } from '../../workflows/shard-lanes';

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

  it('applies training.fromRound overrides from their round on, in round order', () => {
    const plain = parsedTraining({ epochs: 3, learningRate: 3e-4 });
    // No overrides: the campaign's settings unchanged, for every round (runs recorded before the field).
    expect(trainingForRound(plain, 1)).toEqual(plain);
    expect(trainingForRound(plain, 5)).toEqual(plain);

    const scheduled = parsedTraining({
      epochs: 3,
      learningRate: 3e-4,
      // Keys out of order on purpose: 10 must not sort before 2.
      fromRound: { 10: { learningRate: 1e-5 }, 2: { epochs: 1 }, 4: { steps: 50, learningRate: 1e-4 } },
    });
    const { fromRound: _schedule, ...base } = scheduled;
    expect(trainingForRound(scheduled, 0)).toEqual(base);
    expect(trainingForRound(scheduled, 1)).toEqual(base);
    expect(trainingForRound(scheduled, 2)).toEqual({ ...base, epochs: 1 });
    expect(trainingForRound(scheduled, 3)).toEqual({ ...base, epochs: 1 });
    // steps replaces the epochs carried over from round 2; exactly one of them is left.
    const { epochs: _epochs, ...noEpochs } = base;
    expect(trainingForRound(scheduled, 4)).toEqual({ ...noEpochs, steps: 50, learningRate: 1e-4 });
    expect(trainingForRound(scheduled, 12)).toEqual({ ...noEpochs, steps: 50, learningRate: 1e-5 });
    expect(scheduled.fromRound).toEqual({
      10: { learningRate: 1e-5 },
      2: { epochs: 1 },
      4: { steps: 50, learningRate: 1e-4 },
    });
  });
});
