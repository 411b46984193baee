import type { RoundStep, ShardInput, ShardResult } from '../contract';
import type { ReportProgress } from './round-progress';

/** [start, end) of each shard of `count` items. */
export function shardRanges(count: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < count; start += size) out.push([start, Math.min(count, start + size)]);
  return out;
}

/**
 * Runs shard activities over [0, count) in `lanes` parallel lanes (at most that many at a time),
 * each taking the next shard when its last one finishes, waiting at the pause gate before each and
 * reporting each finished shard. Results come back in shard order.
 */
export async function runShards<I extends ShardInput>(options: {
  step: RoundStep;
  count: number;
  size: number;
  lanes: number;
  makeInput: (shard: number, start: number, end: number) => I;
  run: (input: I) => Promise<ShardResult>;
  unpaused: () => Promise<void>;
  report: ReportProgress;
}): Promise<ShardResult[]> {
  const { step, makeInput, run, unpaused, report } = options;
  const ranges = shardRanges(options.count, options.size);
  const results: ShardResult[] = new Array<ShardResult>(ranges.length);
  let next = 0;
  let done = 0;
  await report(step, 0, ranges.length);
  const lane = async () => {
    while (next < ranges.length) {
      const i = next++;
      await unpaused();
      results[i] = await run(makeInput(i, ranges[i][0], ranges[i][1]));
      await report(step, ++done, ranges.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.lanes, ranges.length) }, lane));
  return results;
}
