export * from './records';
export * from './jsonl';
export * from './csv';
export { openDataFile } from './open';
