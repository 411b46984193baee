import { retryServerStartup } from '../../demo/session';

// The demo's dev server start is retried on the SDK's startup timeout, and only on it.
describe('retryServerStartup', () => {
  const timeout = new Error(
    'Failed to start ephemeral server: ephemeral server at 127.0.0.1:35085 did not start within 5s.',
  );
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  it('retries startup timeouts and returns the first server that starts', async () => {
    const calls: number[] = [];
    const server = await retryServerStartup(async () => {
      calls.push(calls.length + 1);
      if (calls.length < 3) throw timeout;
      return 'server';
    });
    expect(server).toBe('server');
    expect(calls).toEqual([1, 2, 3]);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('gives up after the last attempt with the timeout itself', async () => {
    let calls = 0;
    await expect(
      retryServerStartup(async () => {
        calls++;
        throw timeout;
      }, 2),
    ).rejects.toBe(timeout);
    expect(calls).toBe(2);
  });

  it('does not retry other failures (a missing binary, a port in use)', async () => {
    const missing = new Error('ephemeral server executable does not exist: .tools/bin/temporal');
    let calls = 0;
    await expect(
      retryServerStartup(async () => {
        calls++;
        throw missing;
      }),
    ).rejects.toBe(missing);
    expect(calls).toBe(1);
  });
});
