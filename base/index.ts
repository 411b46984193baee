// The small base that engine/ and method/ both stand on: bad-input errors and seeded random streams.
// It imports nothing of lmsi, so either library can be used without the other.
export * from './errors';
export * from './rng';
