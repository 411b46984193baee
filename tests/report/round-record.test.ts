import * as fs from 'node:fs/promises';
import { readRoundRecord, roundRecord, roundResultOf, RoundNotRecordedError } from '../../report';
import { ArtifactNotFoundError } from '../../store';
import { makeFakeCampaign, type FakeCampaign } from './fake-campaign';

let campaign: FakeCampaign;
beforeAll(async () => {
  campaign = await makeFakeCampaign();
});
afterAll(async () => {
  await fs.rm(campaign.dir, { recursive: true, force: true });
});

const MISSING = `sha256:${'0'.repeat(64)}`;

describe('round records', () => {
  it('read back as the round result they were made from, with no round workflow', async () => {
    const round1 = campaign.rounds[1];
    const { ref } = await campaign.store.putJson(roundRecord('fake', 'fake/round-1', round1));
    const record = await readRoundRecord(campaign.store, ref, { campaignId: 'fake', round: 1 });
    expect(record).toMatchObject({ kind: 'lmsi.round-result', version: 1, workflowId: 'fake/round-1' });
    expect(record.result).toEqual(round1);
    const source = { round: 1, workflowId: 'fake/round-1', resultRef: ref };
    await expect(roundResultOf(source, { campaignId: 'fake', store: campaign.store })).resolves.toEqual(
      round1,
    );
  });

  it("hold a round's result without the ref of the record itself (which the round returns beside it)", async () => {
    const round1 = campaign.rounds[1];
    const returned = { ...round1, recordRef: MISSING };
    expect(roundRecord('fake', 'fake/round-1', returned)).toEqual(
      roundRecord('fake', 'fake/round-1', round1),
    );
  });

  it('are the same artifact when stored twice (a retried recordRound)', async () => {
    const a = await campaign.store.putJson(roundRecord('fake', 'fake/round-2', campaign.rounds[2]));
    const b = await campaign.store.putJson(roundRecord('fake', 'fake/round-2', campaign.rounds[2]));
    expect(b.ref).toBe(a.ref);
  });

  it("refuse another campaign's or another round's record", async () => {
    const { ref } = await campaign.store.putJson(roundRecord('fake', 'fake/round-1', campaign.rounds[1]));
    await expect(readRoundRecord(campaign.store, ref, { campaignId: 'fake', round: 2 })).rejects.toThrow(
      'holds round 1 of campaign fake, not round 2 of fake',
    );
    await expect(readRoundRecord(campaign.store, ref, { campaignId: 'other', round: 1 })).rejects.toThrow(
      'not round 1 of other',
    );
  });

  it('refuse an artifact that is not a round record, naming the field', async () => {
    const { ref } = await campaign.store.putJson({ kind: 'lmsi.report', version: 1 });
    await expect(readRoundRecord(campaign.store, ref, { campaignId: 'fake', round: 0 })).rejects.toThrow(
      new RegExp(`round record ${ref}: kind: `),
    );
    const noGate = { ...roundRecord('fake', 'fake/round-0', campaign.rounds[0]) } as Record<string, unknown>;
    noGate.result = { ...campaign.rounds[0], gate: undefined };
    const bad = await campaign.store.putJson(noGate);
    await expect(readRoundRecord(campaign.store, bad.ref, { campaignId: 'fake', round: 0 })).rejects.toThrow(
      `round record ${bad.ref}: result.gate: `,
    );
  });

  it('are the one read path: a round without a record, or a record not in this store, fails naming it', async () => {
    const ctx = { campaignId: 'fake', store: campaign.store };
    const unrecorded = roundResultOf({ round: 0, workflowId: 'fake/round-0' }, ctx);
    await expect(unrecorded).rejects.toThrow(RoundNotRecordedError);
    await expect(unrecorded).rejects.toThrow('round 0 (fake/round-0) ran before rounds were recorded');
    const missing = roundResultOf({ round: 3, workflowId: 'fake/round-3', resultRef: MISSING }, ctx);
    await expect(missing).rejects.toThrow(ArtifactNotFoundError);
    await expect(missing).rejects.toThrow(MISSING);
  });
});
