import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

/**
 * A full garbage collection, now. onnxruntime-node copies every output of a run into a new
 * ArrayBuffer, even one written into a buffer given for it, and V8 collects such copies only when
 * JS runs: during the next step's run (native, seconds long) a step's copies would stay resident
 * beside everything that run allocates. Uses `gc` when Node was started with --expose-gc, else
 * exposes it once (a context created after the flag is set has it); where neither works, nothing.
 */
export function collectGarbage(): void {
  if (gc === undefined) {
    const global = (globalThis as { gc?: () => void }).gc;
    if (global) gc = global;
    else
      try {
        setFlagsFromString('--expose-gc');
        gc = runInNewContext('gc') as () => void;
      } catch {
        gc = null;
      }
  }
  gc?.();
}
