import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { renderReportHtml, type RenderOptions } from './html';
import type { CampaignReport } from './types';

/** Writes `report.json` and `report.html` into dir (created if missing), each atomically. */
export async function writeReport(
  dir: string,
  report: CampaignReport,
  options: RenderOptions = {},
): Promise<{ json: string; html: string }> {
  await fs.mkdir(dir, { recursive: true });
  const json = path.join(dir, 'report.json');
  const html = path.join(dir, 'report.html');
  await writeAtomically(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeAtomically(html, await renderReportHtml(report, options));
  return { json, html };
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
}
