/** The run was stopped by its AbortSignal after saving a checkpoint it can resume from. */
export class TrainingAbortedError extends Error {
  override readonly name = 'AbortError';
  constructor(
    readonly step: number,
    readonly checkpointDir: string | null,
  ) {
    super(
      `training stopped at step ${step} by its abort signal` +
        (checkpointDir ? `; resume from ${checkpointDir}` : ' before any step'),
    );
  }
}

/** The loss or gradient norm became NaN or infinite: the step is dropped and nothing after the last checkpoint is saved. */
export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
  constructor(
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
    readonly learningRate: number,
    readonly lastGoodCheckpoint: string | null,
  ) {
    super(
      `training diverged at step ${step}: ` +
        (Number.isFinite(loss)
          ? `the gradient norm is ${gradNorm} (loss ${loss}`
          : `the loss is ${loss} (gradient norm ${gradNorm}`) +
        `, learning rate ${learningRate}); ` +
        (lastGoodCheckpoint
          ? `the last good checkpoint is ${lastGoodCheckpoint}`
          : 'no checkpoint of this run was saved before it') +
        '. Lower the learning rate or raise warmupSteps.',
    );
  }
}
