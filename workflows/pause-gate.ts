import { condition, setHandler } from '@temporalio/workflow';
import { pauseSignal, resumeSignal } from './messages';

/**
 * A round's pause gate: the campaign's pause and resume signals set it, and the round waits at it
 * between activities (the running activity finishes; the next one waits for resume). Returns the
 * wait.
 */
export function pauseGate(startPaused: boolean): () => Promise<void> {
  let paused = startPaused;
  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));
  return () => condition(() => !paused);
}
