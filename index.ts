// lmsi as a library: `require('lmsi').method.majorityVote`, `.engine`, `.store`, `.config`, `.client`.
export * as method from './method';
export * as engine from './engine';
export * as store from './store';
export * as config from './config';
export * as client from './client';
