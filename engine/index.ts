// The model engine: ONNX graphs, autodiff, models, sampler, trainer, tokenizer, checkpoints.
export * from './tokenizer';
export * from './checkpoint';
export * as onnx from './onnx';
export * as model from './model';
export * as train from './train';
export * from './generate';
