export * from './char-tokenizer';
export * from './load';
export * from './chat-template';
