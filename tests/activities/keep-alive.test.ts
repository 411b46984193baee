import { MockActivityEnvironment } from '@temporalio/testing';
import { keepingAlive } from '../../activities/keep-alive';

/** Light activities heartbeat on a timer while they run (issue 19, item 7: faster takeover). */
describe('keepingAlive', () => {
  it('heartbeats at once and then on its timer while the activity runs, and stops when it ends', async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const slow = keepingAlive(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return 'done';
    }, 50);
    expect(await env.run(slow, 320)).toBe('done');
    // One at the start, then one per 50 ms for 320 ms (timers may slip on a loaded machine).
    expect(beats).toBeGreaterThanOrEqual(4);
    expect(beats).toBeLessThanOrEqual(8);
    const after = beats;
    await new Promise((r) => setTimeout(r, 200));
    expect(beats).toBe(after);
  });

  it('passes a failure through and stops its timer', async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const failing = keepingAlive(async () => {
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('bad line');
    }, 10);
    await expect(env.run(failing)).rejects.toThrow('bad line');
    const after = beats;
    await new Promise((r) => setTimeout(r, 100));
    expect(beats).toBe(after);
  });
});
