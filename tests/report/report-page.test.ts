import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { buildReport, writeReport } from '../../report';
import { makeFakeCampaign, type FakeCampaign } from './fake-campaign';

/**
 * The report page in a real browser: Debian's chromium, headless (.ci/run installs it). Missing
 * chromium fails this test rather than skipping it.
 */
const CHROMIUM = process.env.LMSI_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

let campaign: FakeCampaign;
let browser: Browser | undefined;

beforeAll(async () => {
  campaign = await makeFakeCampaign();
});

afterAll(async () => {
  await browser?.close();
  await fs.rm(campaign.dir, { recursive: true, force: true });
});

it('opens in headless chromium with no console errors and no requests, and draws every chart', async () => {
  expect(
    existsSync(CHROMIUM) ? CHROMIUM : `chromium not found at ${CHROMIUM} (apt-get install chromium)`,
  ).toBe(CHROMIUM);
  const report = await buildReport({ campaignId: 'fake', rounds: campaign.rounds, store: campaign.store });
  const { html } = await writeReport(path.join(campaign.dir, 'report'), report);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  const url = pathToFileURL(html).href;
  await page.goto(url, { waitUntil: 'load' });

  expect(await page.title()).toBe('lmsi campaign fake');
  const charts = await page.$$eval('figure svg', (svgs) =>
    svgs.map((s) => {
      const box = s.getBoundingClientRect();
      return { width: box.width, height: box.height, marks: s.querySelectorAll('path, line, rect').length };
    }),
  );
  // Six charts of scores and the vote, five of label-free health (no agreement: no previous round given).
  expect(charts).toHaveLength(11);
  for (const c of charts) {
    expect(c.width).toBeGreaterThan(300);
    expect(c.height).toBeGreaterThan(200);
    expect(c.marks).toBeGreaterThan(5);
  }
  const rows = await page.$$eval('body > table tbody tr', (trs) => trs.length);
  expect(rows).toBe(3);

  const screenshot = path.join(campaign.dir, 'report.png');
  const png = await page.screenshot({ path: screenshot, fullPage: true });
  expect(png.subarray(1, 4).toString()).toBe('PNG');
  expect(png.length).toBeGreaterThan(50_000);
  if (process.env.LMSI_KEEP_SCREENSHOT) await fs.copyFile(screenshot, process.env.LMSI_KEEP_SCREENSHOT);

  // Only the page itself was loaded: no font, image or script from anywhere.
  expect(requests).toEqual([url]);
  expect(problems).toEqual([]);
});
