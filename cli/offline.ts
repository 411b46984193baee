import type { Client } from '@temporalio/client';
import { finishedCampaignFromStore } from '../client';
import type { ArtifactStore } from '../store';
import { withClient, type TemporalOptions } from './temporal-options';
import { temporalOutage } from './wait';

type StoredCampaign = NonNullable<Awaited<ReturnType<typeof finishedCampaignFromStore>>>;

/**
 * Reads a campaign through Temporal, or, when no Temporal server can be reached, from the artifact
 * store alone if it holds the campaign finished (its index and round records): an archived campaign
 * is audited without a server. A running campaign still needs Temporal (its live state is there).
 */
/** The store's folder, or its bucket and prefix, for messages. */

export async function fromTemporalOrStore<T>(
  target: TemporalOptions,
  store: ArtifactStore,
  campaignId: string,
  online: (client: Client) => Promise<T>,
  offline: (stored: StoredCampaign) => T | Promise<T>,
): Promise<T> {
  try {
    return await withClient(target, online);
  } catch (e) {
    if (!temporalOutage(e)) throw e;
    const why = e instanceof Error ? e.message : String(e);
    const stored = await finishedCampaignFromStore(store, campaignId);
    if (!stored) {
      throw new Error(
        `Temporal unreachable (${why}), and the artifact store ${store.location} holds no finished campaign ${campaignId} to read instead (--config or --artifacts names the store)`,
      );
    }
    process.stderr.write(
      `lmsi: Temporal unreachable (${why}): campaign ${campaignId} read from the artifact store ${store.location}\n`,
    );
    return offline(stored);
  }
}
