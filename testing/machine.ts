import { cpus, loadavg, totalmem } from 'node:os';
import * as ort from 'onnxruntime-node';

/**
 * The machine a benchmark or the demo ran on, as every results file records it: with the onnxruntime
 * version and the load average (the machine may be shared, and wall times mean little without it).
 */
export function machine() {
  return {
    cpu: cpus()[0]?.model?.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    onnxruntime: ort.env.versions.common,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
