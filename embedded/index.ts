// The embedded default model: recipes for a small Llama-family base model that the project trains from
// scratch on its own arith task, and the builder. It composes engine/ (the model, the trainer) and
// method/ (the task, the prompt formats), so it sits above both: what `lmsi model init`, the demo,
// the benchmarks and the tests build on.
export * from './arith-base-model';
export * from './recipes';
export * from './seed-examples';
