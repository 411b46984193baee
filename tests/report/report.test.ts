import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { buildReport, renderReportHtml, writeReport, type CampaignReport } from '../../report';
import { makeFakeCampaign, type FakeCampaign } from './fake-campaign';

let campaign: FakeCampaign;
let report: CampaignReport;
let html: string;
const warnings: string[] = [];

beforeAll(async () => {
  campaign = await makeFakeCampaign();
  report = await buildReport({
    campaignId: 'fake',
    rounds: campaign.rounds,
    store: campaign.store,
    generatedAt: '2025-01-02T11:00:00.000Z',
  });
  html = await renderReportHtml(report, { onWarning: (chart, m) => warnings.push(`${chart}: ${m}`) });
});

afterAll(async () => {
  await fs.rm(campaign.dir, { recursive: true, force: true });
});

describe('buildReport', () => {
  it('has accuracy per round, greedy and SC, from each round evaluation', () => {
    expect(report.rounds.map((r) => r.round)).toEqual([0, 1, 2]);
    expect(report.rounds.map((r) => r.scores.greedyAccuracy)).toEqual([0.25, 0.5, 0.25]);
    expect(report.rounds.map((r) => r.scores.scAccuracy)).toEqual([0.5, 0.75, 0.75]);
    expect(report.rounds.map((r) => r.scores.scK)).toEqual([4, 4, 4]);
    for (const r of report.rounds) expect(r.scores.questions).toBe(4);
  });

  it('has accuracy vs k, ending at SC over all m paths', () => {
    for (const r of report.rounds) {
      expect(r.scores.accuracyVsK.map((p) => p.k)).toEqual([1, 2, 4]);
      expect(r.scores.accuracyVsK[2].accuracy).toBe(r.scores.scAccuracy);
    }
  });

  it('has the calibration table per round (confidence bin -> accuracy, count)', () => {
    const nonEmpty = (round: number) =>
      report.rounds[round].scores.calibration
        .filter((b) => b.count > 0)
        .map((b) => ({ lo: b.lo, count: b.count, accuracy: b.accuracy }));
    expect(nonEmpty(0)).toEqual([
      { lo: 0.5, count: 2, accuracy: 0.5 },
      { lo: 0.7, count: 2, accuracy: 0.5 },
    ]);
    expect(nonEmpty(1)).toEqual([
      { lo: 0.5, count: 1, accuracy: 1 },
      { lo: 0.7, count: 2, accuracy: 0.5 },
      { lo: 0.9, count: 1, accuracy: 1 },
    ]);
    expect(report.rounds[0].scores.calibration).toHaveLength(10);
    // ECE of round 0: bins at mean confidence .5 and .75, both 50% right.
    expect(report.rounds[0].scores.expectedCalibrationError).toBeCloseTo(0.5 * 0 + 0.5 * 0.25, 12);
  });

  it('has the full training loss curve from its artifact, not the thinned copy', () => {
    expect(report.rounds[0].training).toBeNull();
    for (const round of [1, 2]) {
      const t = report.rounds[round].training!;
      expect(campaign.rounds[round].training!.lossCurve).toHaveLength(4);
      expect(t.lossCurve).toEqual(campaign.fullLossCurves[round]);
      expect(t.finalLoss).toBe(campaign.fullLossCurves[round][11].loss);
    }
    expect(report.rounds[2].training!.resumedFromStep).toBe(4);
  });

  it('has kept-path counts and drop reasons per round', () => {
    expect(report.rounds[0].filtering).toBeNull();
    const f1 = report.rounds[1].filtering!;
    expect([f1.paths, f1.keptPaths, f1.questions, f1.questionsKept]).toEqual([12, 9, 3, 3]);
    expect(f1.droppedBy).toEqual({
      disagree: 2,
      abstain: 1,
      lowConfidence: 0,
      duplicate: 0,
      overCap: 0,
      tooLong: 0,
    });
    expect(f1.meanKeptConfidence).toBeCloseTo((0.75 + 0.5 + 1) / 3, 12);
    const f2 = report.rounds[2].filtering!;
    expect([f2.keptPaths, f2.questionsKept]).toEqual([6, 2]);
    expect(f2.droppedBy).toEqual({
      disagree: 2,
      abstain: 1,
      lowConfidence: 2,
      duplicate: 0,
      overCap: 1,
      tooLong: 0,
    });
    // Two mixed formats per kept path.
    expect(report.rounds[1].trainingSet).toEqual({
      examples: 18,
      perFormat: { 'zero-shot-cot': 9, 'zero-shot-direct': 9 },
      replayed: 0,
    });
    expect(report.rounds[1].sampling).toEqual({
      questions: 3,
      paths: 12,
      shards: 2,
      finishReasons: { stop: 12, eos: 0, length: 0 },
      resumedQuestions: 0,
    });
  });

  it('has gate decisions, model refs, the current model and wall times', () => {
    expect(report.rounds.map((r) => r.gate.promoted)).toEqual([true, true, false]);
    const [r0, r1, r2] = campaign.rounds;
    expect(report.rounds[1].modelIn).toBe(r0.modelOut);
    expect(report.rounds[2].modelIn).toBe(r1.modelOut);
    expect(report.rounds[2].modelOut).toBe(r2.modelOut);
    expect(report.rounds[1].refs.votes).toBe(r1.vote!.votesRef);
    expect(report.rounds[1].refs.sampleShards).toEqual(r1.sampling!.shards.map((s) => s.ref));
    // Round 2 was not promoted: the campaign goes on from round 1's model.
    expect(report.currentModel).toEqual({ round: 1, modelRef: r1.modelOut, accuracy: 0.5 });
    expect(report.bestAccuracy).toBe(0.5);
    expect(report.rounds.map((r) => r.wallSeconds)).toEqual([30, 240, 180]);
    expect(report.totalWallSeconds).toBe(450);
  });

  it('shows a distilled student as its own line', async () => {
    const withStudent = campaign.rounds.map((r) => ({
      ...r,
      student: {
        modelIn: r.modelIn,
        modelOut: r.modelOut,
        training: r.training,
        evaluation: campaign.rounds[0].evaluation,
      },
    }));
    const r = await buildReport({ campaignId: 'fake', rounds: withStudent, store: campaign.store });
    expect(r.rounds.map((x) => x.student!.scores.greedyAccuracy)).toEqual([0.25, 0.25, 0.25]);
    const page = await renderReportHtml(r);
    expect(page).toContain('student greedy');
    expect(page).toContain('student SC@4');
  });
});

describe('renderReportHtml', () => {
  it('is self-contained: no script, no external resource, charts inline as SVG', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    const urls = [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']*)["']/gi)].map((m) => m[1]);
    expect(urls.filter((u) => /^(https?:)?\/\//i.test(u))).toEqual([]);
    expect(html).not.toMatch(/<script|<link|<iframe|@import|url\(/i);
    expect(html).toContain("default-src 'none'");
    const svgs = html.match(/<svg[\s>]/g) ?? [];
    // Six charts of scores and the vote, and one per label-free health signal but the agreement with
    // the previous round (these rounds were summarised without one).
    expect(svgs.length).toBe(11);
    for (const id of [
      'accuracy',
      'accuracy-vs-k',
      'calibration',
      'training-loss',
      'kept-paths',
      'vote-confidence',
      'health-majority-share',
      'health-answer-entropy',
      'health-abstention',
      'health-path-length',
      'health-distinct-rationales',
    ]) {
      expect(html).toMatch(new RegExp(`<figure id="${id}"><h3>[^<]+</h3><svg`));
    }
    expect(warnings).toEqual([]);
  });

  it('shows the numbers: per-round table, gate decisions and the calibration bins', () => {
    expect(html).toContain('<td>25.0%</td><td>50.0% <small>(k=4)</small></td>');
    expect(html).toContain('<td>9 / 12</td><td>18</td>');
    expect(html).toContain('not promoted');
    expect(html).toContain('accuracy fell 25.0 points below the best');
    // Axis labels of the charts are rendered text inside the SVGs.
    expect(html).toMatch(/<text[^>]*>confidence \(vote share\)<\/text>/);
    expect(html).toMatch(/<text[^>]*>optimiser step<\/text>/);
  });

  it("labels the calibration chart's rounds in a legend (each round is a colour)", () => {
    const figure = html.match(/<figure id="calibration">[\s\S]*?<\/figure>/)![0];
    const legendLabels = [...figure.matchAll(/role-legend-label[\s\S]*?<text[^>]*>([^<]*)<\/text>/g)].map(
      (m) => m[1],
    );
    expect(legendLabels).toEqual(expect.arrayContaining(['round 0', 'round 1', 'round 2']));
  });

  it('escapes what it did not write', async () => {
    const page = await renderReportHtml({ ...report, campaignId: '<img src="http://x/y.png">' });
    expect(page).not.toContain('<img');
    expect(page).toContain('&#60;img src=&#34;http://x/y.png&#34;&#62;');
  });

  it('draws no empty axes: a campaign with only round 0 says there is no data', async () => {
    const r = await buildReport({
      campaignId: 'fresh',
      rounds: campaign.rounds.slice(0, 1),
      store: campaign.store,
    });
    const page = await renderReportHtml(r);
    // Round 0 has scores and its evaluated model's health, but no training, vote or previous round.
    expect((page.match(/<svg[\s>]/g) ?? []).length).toBe(8);
    expect((page.match(/No data in these rounds/g) ?? []).length).toBe(4);
  });
});

describe('writeReport', () => {
  it('writes report.json (the report itself) and report.html', async () => {
    const out = path.join(campaign.dir, 'out', 'nested');
    const written = await writeReport(out, report);
    expect(written).toEqual({ json: path.join(out, 'report.json'), html: path.join(out, 'report.html') });
    expect(JSON.parse(await fs.readFile(written.json, 'utf8'))).toEqual(report);
    expect(await fs.readFile(written.html, 'utf8')).toBe(html);
    expect((await fs.readdir(out)).sort()).toEqual(['report.html', 'report.json']);
  });
});
