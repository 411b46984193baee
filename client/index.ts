// Client helpers: connecting to Temporal and starting lmsi workflows.
export * from './connection';
export * from './datasets';
