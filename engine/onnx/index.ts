export { attr, type AttrValue, type Attrs } from './attrs';
export { type DType, isFloat } from './dtype';
export { Graph, Tensor, type Node, type Initializer } from './graph';
export { grad, type GradOptions } from './autodiff';
export { GRAD_RULES, unbroadcast, type GradRule } from './grad-rules';
export * as ops from './ops';
export { type Dim, type Shape, formatShape } from './shape';
export { OPSET, serialize, toBytes, toModelProto, type SerializeOptions, type Serialized } from './serialize';
export { createSession, ortTensor } from './session';
