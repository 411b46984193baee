// The paper's method as pure functions (no Temporal, no ONNX).
export * from './types';
// The shared base (errors, seeded rng) stays part of the method's public surface, as before.
export * from '../base';
export * from './vote';
export * from './formats';
export * from './mixed-formats';
export * from './filter';
export * from './bins';
export * from './metrics';
export * from './self-generated-questions';
export * from './self-generated-exemplars';
export * from './tasks';
export * from './answers';
export * from './load';
export * from './replay';
export * from './health';
export * from './ttrl';
