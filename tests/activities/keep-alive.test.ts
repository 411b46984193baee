import { MockActivityEnvironment } from '@temporalio/testing';
import { keepingAlive } from '../../activities/keep-alive';

/** Light activities heartbeat on a timer while they run (issue 19, item 7: faster takeover). */
describe('keepingAlive', () => {
  it('heartbeats at once and then on its timer while the activity runs, and stops when it ends', async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    let threeTimerBeats!: () => void;
    const timerBeats = new Promise<void>((resolve) => (threeTimerBeats = resolve));
    env.on('heartbeat', () => {
      beats++;
      if (beats === 4) threeTimerBeats();
    });
    // The activity runs until its timer has beaten three times (no wall-clock bound: a loaded
    // machine only makes it slower); a timer that never beats leaves it running into jest's timeout.
    const slow = keepingAlive(async () => {
      const atStart = beats;
      await timerBeats;
      return atStart;
    }, 20);
    // One heartbeat at once, before the activity's own work starts.
    expect(await env.run(slow)).toBe(1);
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
