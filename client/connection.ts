import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { lmsiDataConverter } from './codec';

/**
 * How lmsi reaches Temporal. Payloads are encrypted when a codec key is configured (client/codec.ts). Unset fields come from Temporal's standard environment configuration
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles in temporal.toml),
 * so the same binary talks to the embedded dev server, a self-hosted cluster or Temporal Cloud.
 */
export interface TemporalTarget {
  address?: string;
  namespace?: string;
  /** temporal.toml profile (TEMPORAL_PROFILE otherwise). */
  profile?: string;
}

/** Connection options and namespace for a target: explicit fields over the environment configuration. */
export function resolveTarget(target: TemporalTarget) {
  const { connectionOptions, namespace } = loadClientConnectConfig({ profile: target.profile });
  return {
    connectionOptions: {
      ...connectionOptions,
      address: target.address ?? connectionOptions.address ?? 'localhost:7233',
    },
    namespace: target.namespace ?? namespace ?? 'default',
  };
}

/** Whether a `host:port` address is this machine (nothing leaves it). */
export function isLoopbackAddress(address: string): boolean {
  const host = address.startsWith('[')
    ? address.slice(1, address.indexOf(']'))
    : address.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * The warning for a campaign about to send its payloads (the whole config, paths included) in clear
 * to a server on another machine, or null: loopback, or a payload key configured (client/codec.ts).
 */
export function clearPayloadsWarning(
  target: TemporalTarget,
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  if (env.LMSI_CODEC_KEY || env.LMSI_CODEC_KEY_FILE) return null;
  const { address } = resolveTarget(target).connectionOptions;
  if (isLoopbackAddress(address)) return null;
  return `warning: Temporal at ${address} is not on this machine and no payload key is set (LMSI_CODEC_KEY or LMSI_CODEC_KEY_FILE): the campaign's payloads, its whole config and paths included, are stored in clear in the server's history (client/README.md: payload encryption)`;
}

export async function connectClient(target: TemporalTarget = {}): Promise<Client> {
  const { connectionOptions, namespace } = resolveTarget(target);
  const connection = await Connection.connect(connectionOptions);
  return new Client({ connection, namespace, dataConverter: lmsiDataConverter() });
}

export async function connectWorkerConnection(
  target: TemporalTarget = {},
): Promise<{ connection: NativeConnection; namespace: string }> {
  const { connectionOptions, namespace } = resolveTarget(target);
  return { connection: await NativeConnection.connect(connectionOptions), namespace };
}
