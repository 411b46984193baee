import { cpus, totalmem } from 'node:os';

/** The machine a benchmark ran on, as every results file records it. */
export function machine(): { cpu: string; cores: number; memoryGiB: number; node: string; platform: string } {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}
