export * from './campaign';
export * from './load';
