import * as fs from 'node:fs/promises';
import type { CampaignConfig } from '../../config/campaign';
import { indexReport, indexRound, indexableCampaignId, readCampaignIndex } from '../../report';
import { campaignIndexFolder } from '../../report/campaign-index';
import { isBadInputError } from '../../base/errors';
import { InvalidRefError, LocalArtifactStore } from '../../store';
import type { RoundResult } from '../../contract';
import { makeFakeCampaign, type FakeCampaign } from './fake-campaign';

let campaign: FakeCampaign;
beforeAll(async () => {
  campaign = await makeFakeCampaign();
});
afterAll(async () => {
  await fs.rm(campaign.dir, { recursive: true, force: true });
});

const REPORT = {
  treeRef: `sha256:${'1'.repeat(64)}`,
  jsonRef: `sha256:${'2'.repeat(64)}`,
  htmlRef: `sha256:${'3'.repeat(64)}`,
  rounds: 3,
};
const recordRef = (round: number) => `sha256:${String(round).repeat(64)}`;
/** The fake rounds as a campaign configured for 2 rounds ran them. */
const rounds = (): RoundResult[] =>
  campaign.rounds.map((r) => ({ ...r, config: { rounds: 2 } as CampaignConfig }));

async function freshStore(): Promise<LocalArtifactStore> {
  return new LocalArtifactStore(await fs.mkdtemp(`${campaign.dir}/index-`));
}

async function indexAll(store: LocalArtifactStore, id: string, order = [0, 1, 2]): Promise<void> {
  const rs = rounds();
  for (const n of order) await indexRound(store, id, `${id}/round-${n}`, recordRef(n), rs[n]);
}

describe('the campaign index', () => {
  it("lists a campaign's rounds, best model and report as the campaign tracks them", async () => {
    const store = await freshStore();
    expect(await readCampaignIndex(store, 'c')).toBeNull();
    await indexAll(store, 'c');
    await indexReport(store, 'c', REPORT, campaign.rounds[2].finishedAt);
    const index = await readCampaignIndex(store, 'c');
    expect(index).toMatchObject({
      campaignId: 'c',
      // Round 2 was not promoted: the best model is round 1's, at round 1's gate accuracy.
      bestModelRef: campaign.rounds[1].modelOut,
      bestAccuracy: campaign.rounds[1].gate.accuracy,
      plannedRounds: 2,
      report: REPORT,
      updatedAt: campaign.rounds[2].finishedAt,
    });
    expect(index!.rounds.map((r) => [r.round, r.workflowId, r.resultRef, r.modelRef])).toEqual(
      campaign.rounds.map((r) => [r.round, `c/round-${r.round}`, recordRef(r.round), r.modelOut]),
    );
    expect(index!.rounds[1]).toMatchObject({ promoted: true, scAccuracy: 0.75, keptPaths: 9 });
  });

  it('is the same whatever the order of the writes and however often they are retried', async () => {
    const a = await freshStore();
    const b = await freshStore();
    await indexAll(a, 'c');
    await indexAll(b, 'c', [2, 0, 1, 1, 0, 2]);
    expect(await readCampaignIndex(b, 'c')).toEqual(await readCampaignIndex(a, 'c'));
    for (const n of [0, 1, 2]) {
      const name = `${campaignIndexFolder('c')}/round-${n}`;
      expect(await fs.readFile(b.namedPath(name), 'utf8')).toBe(await fs.readFile(a.namedPath(name), 'utf8'));
    }
  });

  it('stops at a missing round, and drops a report that does not cover the rounds listed', async () => {
    const store = await freshStore();
    await indexAll(store, 'c', [0, 2]);
    await indexReport(store, 'c', REPORT, campaign.rounds[2].finishedAt);
    const index = await readCampaignIndex(store, 'c');
    expect(index!.rounds.map((r) => r.round)).toEqual([0]);
    expect(index!.report).toBeNull();
  });

  it("refuses another run's entry under the same campaign id: the audit trail is append-only", async () => {
    const store = await freshStore();
    await indexAll(store, 'c');
    await indexReport(store, 'c', REPORT, campaign.rounds[2].finishedAt);
    const before = await readCampaignIndex(store, 'c');
    const again = {
      ...rounds()[0],
      startedAt: '2025-02-01T00:00:00.000Z',
      finishedAt: '2025-02-01T00:01:00.000Z',
    };
    const refused = await indexRound(store, 'c', 'c/round-0', recordRef(7), again).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isBadInputError(refused)).toBe(true);
    expect((refused as Error).message).toBe(
      "indexes/campaigns/c/round-0: campaignId: the campaign index already holds another run's entry: campaign c exists and its audit trail is never rewritten; start the new run under another id (lmsi run --new-id)",
    );
    await expect(indexReport(store, 'c', { ...REPORT, rounds: 1 }, again.finishedAt)).rejects.toThrow(
      "indexes/campaigns/c/report: campaignId: the campaign index already holds another run's entry",
    );
    expect(await readCampaignIndex(store, 'c')).toEqual(before);
  });

  it("leaves out an earlier run's later rounds in a store written before the index was append-only", async () => {
    const store = await freshStore();
    await indexAll(store, 'c');
    await indexReport(store, 'c', REPORT, campaign.rounds[2].finishedAt);
    // The same id run again: its round 0 starts after the first run's rounds ended.
    const again = {
      ...rounds()[0],
      startedAt: '2025-02-01T00:00:00.000Z',
      finishedAt: '2025-02-01T00:01:00.000Z',
    };
    const other = await freshStore();
    await indexRound(other, 'c', 'c/round-0', recordRef(7), again);
    const name = `${campaignIndexFolder('c')}/round-0`;
    await store.putNamed(name, await other.getNamed(name));
    const index = await readCampaignIndex(store, 'c');
    expect(index!.rounds.map((r) => [r.round, r.resultRef])).toEqual([[0, recordRef(7)]]);
    expect(index!.report).toBeNull();
    expect(index!.updatedAt).toBe(again.finishedAt);
  });

  it('names only ids that stay inside the index, and refuses entries of another campaign', async () => {
    const store = await freshStore();
    for (const bad of ['', '../x', '..', 'a/b', '.hidden', '/abs', 'a b', 'x'.repeat(151)]) {
      expect(indexableCampaignId(bad)).toBe(false);
      expect(() => campaignIndexFolder(bad)).toThrow(InvalidRefError);
      await expect(indexRound(store, bad, 'w', recordRef(0), rounds()[0])).rejects.toThrow(InvalidRefError);
      expect(await readCampaignIndex(store, bad)).toBeNull();
    }
    expect(indexableCampaignId('retention-1732460000000')).toBe(true);
    await indexAll(store, 'other', [0]);
    await fs.mkdir(store.namedPath('indexes/campaigns/c/x').replace(/x\.json$/, ''), { recursive: true });
    await fs.copyFile(
      store.namedPath('indexes/campaigns/other/round-0'),
      store.namedPath('indexes/campaigns/c/round-0'),
    );
    await expect(readCampaignIndex(store, 'c')).rejects.toThrow(
      'campaign index indexes/campaigns/c/round-0: belongs to campaign other, not c',
    );
    await fs.writeFile(
      store.namedPath('indexes/campaigns/c/round-0'),
      '{"kind":"lmsi.campaign-index.round"}',
    );
    await expect(readCampaignIndex(store, 'c')).rejects.toThrow(
      'campaign index indexes/campaigns/c/round-0: version',
    );
  });
});
