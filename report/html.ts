import { reportCharts } from './charts';
import { renderSvg, type ChartWarning } from './svg';
import type { CampaignReport, ModelScores, RoundReport } from './types';

/**
 * The report page: one self-contained HTML file (inline CSS, charts as inline SVG rendered here, no
 * script, no external resource) that opens offline and can be archived with the campaign. Its
 * Content-Security-Policy forbids any fetch, so a browser would refuse one rather than leak it.
 */

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.6rem; margin-bottom: .25rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .25rem; }
.meta { color: #555; margin: 0 0 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: right; vertical-align: top; }
th { background: #f5f5f7; }
td.text, th.text { text-align: left; }
code { font-size: .85em; }
.yes { color: #1a7f37; font-weight: 600; }
.no { color: #b42318; font-weight: 600; }
figure { margin: 1rem 0 2rem; }
figcaption { color: #555; font-size: .9rem; max-width: 48rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(38rem, 1fr)); gap: 1rem; }
details { margin: .5rem 0; }
summary { cursor: pointer; font-weight: 600; }
.empty { color: #777; font-style: italic; }
`;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`;
const num = (x: number | null | undefined, digits = 0) =>
  x === null || x === undefined ? '—' : x.toFixed(digits);
/** `sha256:` plus the first 12 hex digits: enough to tell models apart; the full ref is in the title. */
const shortRef = (ref: string | null) =>
  ref === null
    ? '—'
    : `<code title="${escapeHtml(ref)}">${escapeHtml(ref.replace(/^(sha256:[0-9a-f]{12}).*$/, '$1…'))}</code>`;

function seconds(s: number): string {
  if (s < 90) return `${s.toFixed(1)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function table(head: string[], rows: string[][], textColumns: number[] = []): string {
  const cls = (i: number) => (textColumns.includes(i) ? ' class="text"' : '');
  return `<table><thead><tr>${head.map((h, i) => `<th${cls(i)}>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function summaryTable(report: CampaignReport): string {
  const hasStudent = report.rounds.some((r) => r.student !== null);
  const head = [
    'round',
    'model in',
    'model out',
    'greedy',
    'SC',
    ...(hasStudent ? ['student greedy', 'student SC'] : []),
    'kept / sampled paths',
    'training examples',
    'final loss',
    'gate',
    'wall time',
  ];
  const rows = report.rounds.map((r) => [
    String(r.round),
    shortRef(r.modelIn),
    shortRef(r.modelOut),
    pct(r.scores.greedyAccuracy),
    `${pct(r.scores.scAccuracy)} <small>(k=${r.scores.scK})</small>`,
    ...(hasStudent ? [pct(r.student?.scores.greedyAccuracy), pct(r.student?.scores.scAccuracy)] : []),
    r.filtering ? `${r.filtering.keptPaths} / ${r.filtering.paths}` : '—',
    num(r.trainingSet?.examples ?? r.policySet?.examples),
    num(r.training?.finalLoss, 4),
    `<span class="${r.gate.promoted ? 'yes' : 'no'}">${r.gate.promoted ? 'promoted' : 'not promoted'}</span><br><small>${escapeHtml(r.gate.reason)}</small>`,
    seconds(r.wallSeconds),
  ]);
  return table(head, rows, [1, 2, head.length - 2]);
}

function calibrationTable(scores: ModelScores): string {
  return table(
    ['confidence', 'questions', 'accuracy', 'mean confidence'],
    scores.calibration.map((b) => [
      `${pct(b.lo)}–${pct(b.hi)}`,
      String(b.count),
      pct(b.accuracy),
      pct(b.meanConfidence),
    ]),
  );
}

function roundDetails(r: RoundReport): string {
  const parts: string[] = [];
  parts.push(
    `<p>${escapeHtml(r.startedAt)} → ${escapeHtml(r.finishedAt)} (${seconds(r.wallSeconds)}). Model ${shortRef(r.modelIn)} → ${shortRef(r.modelOut)}.</p>`,
  );
  if (r.generatedQuestions) {
    const g = r.generatedQuestions;
    parts.push(
      `<p>Self-generated questions: ${g.added} added of ${g.sampled} sampled (${g.unparseable} unparseable, ${g.duplicates} duplicates).</p>`,
    );
  }
  if (r.sampling) {
    const reasons = Object.entries(r.sampling.finishReasons)
      .map(([k, v]) => `${escapeHtml(k)} ${v}`)
      .join(', ');
    parts.push(
      `<p>Sampling: ${r.sampling.paths} paths for ${r.sampling.questions} questions in ${r.sampling.shards} shards (finish reasons: ${reasons}; ${r.sampling.resumedQuestions} questions resumed from drafts).</p>`,
    );
  }
  if (r.context) {
    parts.push(
      `<p>The model's context: ${r.context.warnings.map(escapeHtml).join('; ')}.</p>`,
      ...r.context.skipped.map(
        (s) =>
          `<p>Skipped in ${escapeHtml(s.step)} (prompt longer than the context): ${s.questionIds.map(escapeHtml).join(', ')}.</p>`,
      ),
    );
  }
  if (r.filtering) {
    const f = r.filtering;
    parts.push(
      `<p>Vote and filter: ${f.questionsKept} of ${f.questions} questions kept at least one path; mean confidence of those ${pct(f.meanKeptConfidence)}.</p>`,
      table(
        ['outcome', 'paths'],
        [
          ['kept', String(f.keptPaths)],
          ...Object.entries(f.droppedBy).map(([k, v]) => [`dropped: ${escapeHtml(k)}`, String(v)]),
        ],
        [0],
      ),
    );
  }
  if (r.trainingSet) {
    const formats = Object.entries(r.trainingSet.perFormat)
      .map(([k, v]) => `${escapeHtml(k)} ${v}`)
      .join(', ');
    parts.push(
      `<p>Self-training set: ${r.trainingSet.examples} examples (${formats}; ${r.trainingSet.replayed} replayed).</p>`,
    );
  }
  if (r.policySet) {
    const p = r.policySet;
    parts.push(
      `<p>TTRL policy set: ${p.examples} trained paths rewarded by agreement with the majority answer (mean reward ${num(p.meanReward, 3)}); ${p.questionsWithoutSignal} of ${p.questions} questions left out without signal.</p>`,
    );
  }
  if (r.training) {
    const t = r.training;
    parts.push(
      `<p>Fine-tuning: ${t.steps} steps on ${t.examples} examples, ${t.tokensSeen} tokens, final loss ${num(t.finalLoss, 4)}${t.resumedFromStep > 0 ? `, resumed from step ${t.resumedFromStep}` : ''}.</p>`,
    );
  }
  parts.push(
    `<p>Evaluation: ${r.scores.questions} questions; SC by k: ${r.scores.sc.map((s) => `k=${s.k} ${pct(s.accuracy)}`).join(', ')}; expected calibration error ${num(r.scores.expectedCalibrationError, 3)}.</p>`,
    calibrationTable(r.scores),
  );
  if (r.student) {
    parts.push(
      `<p>Student ${shortRef(r.student.modelIn)} → ${shortRef(r.student.modelOut)}: greedy ${pct(r.student.scores.greedyAccuracy)}, SC ${pct(r.student.scores.scAccuracy)}${r.student.training ? `, final loss ${num(r.student.training.finalLoss, 4)}` : ''}.</p>`,
    );
  }
  parts.push(
    `<p>Gate: <span class="${r.gate.promoted ? 'yes' : 'no'}">${r.gate.promoted ? 'promoted' : 'not promoted'}</span> — ${escapeHtml(r.gate.reason)}.</p>`,
  );
  const refs = Object.entries(r.refs).flatMap(([name, v]) =>
    (Array.isArray(v) ? v : [v])
      .filter((x): x is string => x !== null)
      .map((ref) => [escapeHtml(name), `<code>${escapeHtml(ref)}</code>`]),
  );
  parts.push(table(['artifact', 'ref'], refs, [0, 1]));
  return `<details><summary>Round ${r.round}</summary>${parts.join('\n')}</details>`;
}

export interface RenderOptions {
  /** Called for each warning vega or vega-lite gives about a chart (default: ignored). */
  onWarning?: ChartWarning;
}

export async function renderReportHtml(report: CampaignReport, options: RenderOptions = {}): Promise<string> {
  const onWarning = options.onWarning ?? (() => undefined);
  const figures: string[] = [];
  for (const chart of reportCharts(report)) {
    const body =
      chart.spec === null
        ? '<p class="empty">No data in these rounds.</p>'
        : await renderSvg(chart.id, chart.spec, onWarning);
    figures.push(
      `<figure id="${chart.id}"><h3>${escapeHtml(chart.title)}</h3>${body}<figcaption>${escapeHtml(chart.caption)}</figcaption></figure>`,
    );
  }
  const current = report.currentModel;
  const title = `lmsi campaign ${report.campaignId}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${report.rounds.length} finished rounds · ${seconds(report.totalWallSeconds)} of round wall time · current model ${current ? `${shortRef(current.modelRef)} (round ${current.round}, ${pct(current.accuracy)})` : '—'} · best accuracy ${pct(report.bestAccuracy)} · generated ${escapeHtml(report.generatedAt)}</p>
${report.stopped ? `<p class="stopped"><strong>Stopped in round ${report.stopped.round}:</strong> ${escapeHtml(report.stopped.reason)}</p>\n` : ''}<h2>Rounds</h2>
${summaryTable(report)}
<h2>Charts</h2>
<div class="charts">
${figures.join('\n')}
</div>
<h2>Round details</h2>
${report.rounds.map(roundDetails).join('\n')}
</body>
</html>
`;
}
