export * from './extract';
export * from './number';
export * from './drop';
export * from './choice';
export * from './nli';
export * from './text';
