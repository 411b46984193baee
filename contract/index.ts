// The values that cross Temporal, declared once: activity inputs, results and heartbeat cursors; the
// round and campaign inputs, results, progress and status; the record line shapes; the failure type
// names. Workflows, activities, report and client import them from here; this folder imports none
// of them, so no import circle can pass through it.
export * from './activities';
export * from './campaign';
export * from './config';
export * from './context-limits';
export * from './evaluation';
export * from './failures';
export * from './policy';
export * from './records';
export * from './report';
export * from './round';
export * from './round-summary';
export * from './sampling';
export * from './self-generation';
export * from './snapshots';
export * from './task';
export * from './training';
export * from './vote';
