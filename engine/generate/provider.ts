import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export type ExecutionProvider = 'cpu' | 'cuda';

/** The provider libraries onnxruntime-node loads from beside its own libonnxruntime.so.1. */
export const CUDA_PROVIDER_LIBRARIES = [
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_cuda.so',
];

const INSTALL_HINT =
  'Install it with `bash infra/gpu/install-cuda-ep` (copies the CUDA 13 provider libraries of ' +
  'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 next to onnxruntime-node; the machine needs the ' +
  'CUDA 13 runtime, cuBLAS, cuRAND and cuDNN 9)';

/** Where onnxruntime-node keeps libonnxruntime.so.1 for this platform. */
export function onnxruntimeBinDir(): string {
  const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(root, 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * Why the CUDA provider cannot load here, or null when it can. Checked before asking onnxruntime,
 * whose own failure says only "Failed to load shared library".
 */
export function cudaUnavailableReason(binDir: string = onnxruntimeBinDir()): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `the CUDA provider is only packaged for linux-x64 (this is ${process.platform}-${process.arch})`;
  for (const lib of CUDA_PROVIDER_LIBRARIES)
    if (!existsSync(path.join(binDir, lib))) return `${lib} is not in ${binDir}. ${INSTALL_HINT}`;
  const missing = unresolvedLibraries(path.join(binDir, 'libonnxruntime_providers_cuda.so'));
  if (missing.length > 0)
    return (
      `libonnxruntime_providers_cuda.so needs ${missing.join(', ')}, which the dynamic loader cannot ` +
      `find (add their folder to LD_LIBRARY_PATH). ${INSTALL_HINT}`
    );
  return null;
}

/** Shared libraries `lib` depends on that ldd reports as "not found". */
function unresolvedLibraries(lib: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [lib], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    // Without ldd the check cannot be made; onnxruntime's own load attempt still reports failure.
    const stdout = (e as { stdout?: string }).stdout;
    if (typeof stdout !== 'string') return [];
    out = stdout;
  }
  return out
    .split('\n')
    .map((line) => /^\s*(\S+)\s*=>\s*not found/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

export class ExecutionProviderUnavailableError extends Error {
  override readonly name = 'ExecutionProviderUnavailableError';
  constructor(
    readonly provider: ExecutionProvider,
    readonly reason: string,
  ) {
    super(`execution provider ${provider} is unavailable: ${reason}`);
  }
}
