import type { Command } from 'commander';
import { connectClient, type TemporalTarget } from '../client';

export type TemporalOptions = TemporalTarget;

/** --address/--namespace/--profile; unset ones come from Temporal's environment configuration. */
export function withTemporalOptions(cmd: Command): Command {
  return cmd
    .option(
      '--address <host:port>',
      'Temporal frontend (default: environment configuration, else localhost:7233)',
    )
    .option('--namespace <ns>', 'Temporal namespace (default: environment configuration, else "default")')
    .option('--profile <name>', 'temporal.toml profile');
}

export async function withClient<T>(
  opts: TemporalOptions,
  fn: (client: Awaited<ReturnType<typeof connectClient>>) => Promise<T>,
): Promise<T> {
  const client = await connectClient(opts);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}
