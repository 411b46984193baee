// lmsi as a library: `require('lmsi').method.majorityVote`, `.engine`, `.store`, `.config`, `.client`.
export * as method from './method';
export * as engine from './engine';
