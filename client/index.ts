// Client helpers: connecting to Temporal and driving lmsi workflows.
export * from './connection';
export * from './datasets';
export * from './campaigns';
export * from './codec';
export * from './codec-server';
export * from './running-activities';
export * from './step-times';
