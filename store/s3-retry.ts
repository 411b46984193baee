/**
 * The S3 store's retry strategy (the SDK's RetryStrategyV2, declared structurally). The SDK's own
 * doubles its wait with each try up to 20 s, so one request either gives up within a few seconds
 * (3 tries) or, with more tries, may sleep long after the service is back. This one tries a failed
 * request again at least every 2 s (from 100 ms, doubling, with jitter) until `patienceMs` has passed
 * since its first try: a request rides through a restart of the S3 server and resumes as soon as the
 * server answers. Only what may heal is retried: connection errors, 5xx and throttling, never an
 * answer such as 403 or 404.
 */
export class PatientRetryStrategy {
  constructor(readonly patienceMs: number) {}

  async acquireInitialRetryToken(_scope: string): Promise<PatientRetryToken> {
    return new PatientRetryToken(0, 0, Date.now());
  }

  async refreshRetryTokenForRetry(
    token: PatientRetryToken,
    info: { errorType: string },
  ): Promise<PatientRetryToken> {
    // Throwing here makes the SDK throw the request's own error, with its attempts counted.
    if (info.errorType === 'CLIENT_ERROR') throw new Error('not retried: the service answered');
    const count = token.getRetryCount() + 1;
    const delay = Math.round(Math.min(2000, 100 * 2 ** count) * (0.5 + Math.random() / 2));
    if (Date.now() + delay - token.firstTry > this.patienceMs) throw new Error('out of patience');
    return new PatientRetryToken(count, delay, token.firstTry);
  }

  recordSuccess(_token: PatientRetryToken): void {}
}

export class PatientRetryToken {
  constructor(
    private readonly count: number,
    private readonly delay: number,
    readonly firstTry: number,
  ) {}

  getRetryCount(): number {
    return this.count;
  }

  getRetryDelay(): number {
    return this.delay;
  }
}
