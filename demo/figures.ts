import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { reportCharts } from '../report/charts';
import { renderSvg } from '../report/svg';
import type { CampaignReport } from '../report/types';

/** The README's figures: the report's accuracy-per-round and calibration charts, as SVG files. */
export const FIGURES = ['accuracy', 'calibration'] as const;

/**
 * Renders the figures of a materialized report (its report.json beside report.html) into `dir` as
 * `<id>.svg`; returns the files written. Chart warnings are printed, not fatal: a figure is a view.
 */
export async function writeFigures(reportHtml: string, dir: string): Promise<string[]> {
  const report = JSON.parse(
    await readFile(path.join(path.dirname(reportHtml), 'report.json'), 'utf8'),
  ) as CampaignReport;
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const chart of reportCharts(report)) {
    if (!FIGURES.includes(chart.id as (typeof FIGURES)[number]) || chart.spec === null) continue;
    const svg = await renderSvg(chart.id, chart.spec, (id, message) =>
      process.stderr.write(`figure ${id}: ${message}\n`),
    );
    const file = path.join(dir, `${chart.id}.svg`);
    await writeFile(file, svg);
    files.push(file);
  }
  return files;
}
