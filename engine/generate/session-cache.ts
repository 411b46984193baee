import { realpathSync, statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from './provider';
import { releaseDecodeStepsSessions } from './decode-steps';

/**
 * One onnxruntime session per (model file, provider, thread count). Creating a session parses and
 * optimises the graph, which for a real model costs far more than sampling a few prompts; activities
 * that sample shard after shard reuse it. The file's size and mtime are part of the key, so a model
 * rewritten in place is loaded afresh.
 */
const sessions = new Map<string, Promise<ort.InferenceSession>>();

export interface SessionKey {
  modelFile: string;
  provider: ExecutionProvider;
  /** Intra-op threads; undefined lets onnxruntime use every core. */
  threads?: number;
}

export function cachedSession(key: SessionKey): Promise<ort.InferenceSession> {
  const file = realpathSync(key.modelFile);
  const st = statSync(file);
  const id = [file, st.size, st.mtimeMs, key.provider, key.threads ?? 'all'].join('|');
  let session = sessions.get(id);
  if (!session) {
    // Loading by path (not bytes) lets onnxruntime resolve external data next to the model file.
    session = ort.InferenceSession.create(file, {
      executionProviders: [key.provider],
      graphOptimizationLevel: 'all',
      ...(key.threads === undefined ? {} : { intraOpNumThreads: key.threads, interOpNumThreads: 1 }),
    });
    sessions.set(id, session);
    session.catch(() => sessions.delete(id));
  }
  return session;
}

/** Releases every cached session, decode-steps ones included (tests, or a worker switching checkpoints). */
export async function releaseSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const s of all) await s.then((x) => x.release()).catch(() => undefined);
  await releaseDecodeStepsSessions();
}
