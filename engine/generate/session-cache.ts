import { realpathSync, statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from './provider';

/**
 * One onnxruntime session per (graph, source file, provider, thread count), for every graph the
 * sampler runs: the exported one-step decoder and the k-step decode graphs built from a checkpoint.
 * Creating a session parses and optimises the graph, which for a real model costs far more than
 * sampling a few prompts; activities that sample shard after shard reuse it. The source file's real
 * path, size and mtime are part of the key, so a model rewritten in place is loaded afresh.
 */
const sessions = new Map<string, { graph: string; session: Promise<ort.InferenceSession> }>();

/** The graph the exported decoder file holds as it is (see `cachedSession`'s `build`). */
export const DECODER_GRAPH = 'decoder';

export interface SessionKey {
  /** Which graph of the source: DECODER_GRAPH, or a name for a graph built from it (its k, ...). */
  graph: string;
  /** The file the graph comes from: the ONNX file itself, or the weights a graph is built from. */
  file: string;
  provider: ExecutionProvider;
  /** Intra-op threads; undefined lets onnxruntime use every core. */
  threads?: number;
}

/**
 * The cached session for `key`, created on a miss from what `build` makes of the source's real path:
 * the path itself by default (loading by path lets onnxruntime resolve external data next to the
 * model file), or the bytes of a graph built from that file. A failed creation is not kept.
 */
export function cachedSession(
  key: SessionKey,
  build: (file: string) => string | Uint8Array = (file) => file,
  extra?: Record<string, unknown>,
): Promise<ort.InferenceSession> {
  const file = realpathSync(key.file);
  const st = statSync(file);
  const id = [key.graph, file, st.size, st.mtimeMs, key.provider, key.threads ?? 'all'].join('|');
  const hit = sessions.get(id);
  if (hit) return hit.session;
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [key.provider],
    graphOptimizationLevel: 'all',
    ...(key.threads === undefined ? {} : { intraOpNumThreads: key.threads, interOpNumThreads: 1 }),
    ...(extra ? { extra } : {}),
  };
  const source = build(file);
  // Two calls because create's path and bytes overloads do not take the union.
  const session =
    typeof source === 'string'
      ? ort.InferenceSession.create(source, options)
      : ort.InferenceSession.create(source, options);
  sessions.set(id, { graph: key.graph, session });
  session.catch(() => sessions.delete(id));
  return session;
}

/**
 * Releases the cached sessions of every graph, or only those whose graph `which` accepts (tests, or a
 * worker switching checkpoints).
 */
export async function releaseSessions(which: (graph: string) => boolean = () => true): Promise<void> {
  const dropped: Promise<ort.InferenceSession>[] = [];
  for (const [id, entry] of sessions)
    if (which(entry.graph)) {
      sessions.delete(id);
      dropped.push(entry.session);
    }
  for (const s of dropped) await s.then((x) => x.release()).catch(() => undefined);
}
