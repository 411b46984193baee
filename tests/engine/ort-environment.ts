import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment';
import { TestEnvironment } from 'jest-environment-node';
import * as ort from 'onnxruntime-node';

/**
 * A jest environment for suites that run onnxruntime-node. Two things break under plain jest:
 *
 * 1. jest evaluates every test file's modules afresh, but a native addon loads once per process:
 *    the second suite in a worker re-runs onnxruntime-node's one-time init and the process aborts
 *    (`napi_add_env_cleanup_hook` assertion). So onnxruntime-node is loaded once, here, outside the
 *    test context, and suites map the module to it with
 *    `jest.mock('onnxruntime-node', () => globalThis.__onnxruntimeNode)`.
 * 2. Each test file runs in its own vm context, whose typed-array constructors differ from the ones
 *    onnxruntime checks with `instanceof` ("A float64 tensor's data must be type of function
 *    Float64Array()"). The test context therefore shares the main context's typed arrays.
 */
export default class OrtEnvironment extends TestEnvironment {
  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    super(config, context);
    const shared = [
      'Float32Array',
      'Float64Array',
      'Int32Array',
      'BigInt64Array',
      'Uint8Array',
      'Int8Array',
      'Uint16Array',
      'Int16Array',
      'Uint32Array',
      'BigUint64Array',
    ];
    for (const name of shared) this.global[name] = (globalThis as Record<string, unknown>)[name];
    this.global.__onnxruntimeNode = ort;
  }
}
