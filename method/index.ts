// The paper's method as pure functions (no Temporal, no ONNX).
export * from './types';
export * from './errors';
export * from './rng';
