export * from './char-tokenizer';
export * from './load';
