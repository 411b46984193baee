import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFigures } from '../../demo/figures';
import { buildReport, writeReport } from '../../report';
import { makeFakeCampaign, type FakeCampaign } from '../report/fake-campaign';

let campaign: FakeCampaign;
afterAll(async () => {
  await fs.rm(campaign.dir, { recursive: true, force: true });
});

describe('demo figures', () => {
  it("renders the report's accuracy and calibration charts as SVG files beside the results", async () => {
    campaign = await makeFakeCampaign();
    const report = await buildReport({ campaignId: 'fake', rounds: campaign.rounds, store: campaign.store });
    const { html } = await writeReport(path.join(campaign.dir, 'report'), report);
    const files = await writeFigures(html, path.join(campaign.dir, 'figures'));
    expect(files.map((f) => path.basename(f))).toEqual(['accuracy.svg', 'calibration.svg']);
    for (const f of files) {
      const svg = await fs.readFile(f, 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      // Drawn marks, not an empty frame: the accuracy lines and the calibration points.
      expect(svg).toMatch(/<path|<circle/);
    }
    expect(await fs.readFile(files[0], 'utf8')).toContain('round');
  });
});
