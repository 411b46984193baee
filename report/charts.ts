import type { TopLevelSpec } from 'vega-lite';
import type { CampaignReport, RoundReport } from './types';

/**
 * The report's charts as vega-lite specs, one per figure. A chart with no data is null (round 0 alone
 * has no training loss, for instance): the page says so instead of drawing empty axes.
 */

export interface ChartSpec {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec | null;
}

const WIDTH = 520;
const HEIGHT = 260;
const percentAxis = { format: '.0%', title: 'accuracy' } as const;
const countAxis = { format: 'd', tickMinStep: 1 } as const;

function base(values: object[]) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: WIDTH,
    height: HEIGHT,
    background: 'white',
    data: { values },
    config: { font: 'sans-serif', legend: { orient: 'right' as const } },
  };
}

const roundLabel = (r: number) => `round ${r}`;

/** Accuracy on the y axis, 0–100%. */
const accuracyY = {
  field: 'accuracy',
  type: 'quantitative',
  axis: percentAxis,
  scale: { domain: [0, 1] as number[] },
} as const;

/** Rounds on the x axis, one tick each. */
const roundX = { field: 'round', type: 'ordinal', title: 'round', axis: { labelAngle: 0 } } as const;

/** One colour per series (round, or model and metric), legend in the order the series appear. */
function seriesColor(values: { series: string }[]) {
  return {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain: orderedDomain(values) },
  } as const;
}

/** A chart with no data has no spec (the page says so instead of drawing empty axes). */
function ifAny(values: unknown[], spec: TopLevelSpec): TopLevelSpec | null {
  return values.length === 0 ? null : spec;
}

/** Keeps the legend in round order ("round 10" after "round 9", not after "round 1"). */
function orderedDomain(values: { series: string }[]): string[] {
  return [...new Set(values.map((v) => v.series))];
}

function accuracyPerRound(report: CampaignReport): ChartSpec {
  const values: { round: number; series: string; accuracy: number }[] = [];
  const add = (round: number, series: string, accuracy: number | null) => {
    if (accuracy !== null) values.push({ round, series, accuracy });
  };
  const hasStudent = report.rounds.some((r) => r.student !== null);
  const who = (name: string) => (hasStudent ? `${name} ` : '');
  for (const r of report.rounds) {
    add(r.round, `${who('teacher')}greedy`, r.scores.greedyAccuracy);
    add(r.round, `${who('teacher')}SC@${r.scores.scK}`, r.scores.scAccuracy);
    if (r.student) {
      add(r.round, 'student greedy', r.student.scores.greedyAccuracy);
      add(r.round, `student SC@${r.student.scores.scK}`, r.student.scores.scAccuracy);
    }
  }
  return {
    id: 'accuracy',
    title: 'Accuracy per round',
    caption:
      'Greedy chain-of-thought accuracy and self-consistency accuracy (majority vote over k sampled paths) on the evaluation set after each round; round 0 is the base model.',
    spec: ifAny(values, {
      ...base(values),
      mark: { type: 'line', point: true },
      encoding: {
        x: roundX,
        y: accuracyY,
        color: seriesColor(values),
      },
    }),
  };
}

function accuracyVsK(report: CampaignReport): ChartSpec {
  const values = report.rounds.flatMap((r) =>
    r.scores.accuracyVsK.map(({ k, accuracy }) => ({ series: roundLabel(r.round), k, accuracy })),
  );
  return {
    id: 'accuracy-vs-k',
    title: 'Self-consistency accuracy vs k',
    caption: 'Accuracy of the majority vote over k of the sampled paths, per round (k on a log scale).',
    spec: ifAny(values, {
      ...base(values),
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'k',
          type: 'quantitative',
          scale: { type: 'log', base: 2 },
          title: 'k (sampled paths)',
          axis: { values: [...new Set(values.map((v) => v.k))], format: 'd' },
        },
        y: accuracyY,
        color: seriesColor(values),
      },
    }),
  };
}

/** At most four distinct counts, smallest and largest included (vega's own ticks repeat integers). */
function legendCounts(counts: number[]): number[] {
  const distinct = [...new Set(counts)].sort((a, b) => a - b);
  if (distinct.length <= 4) return distinct;
  return [0, 1, 2, 3].map((i) => distinct[Math.round((i * (distinct.length - 1)) / 3)]);
}

function calibration(report: CampaignReport): ChartSpec {
  const values = report.rounds.flatMap((r) =>
    r.scores.calibration
      .filter((b) => b.count > 0 && b.accuracy !== null && b.meanConfidence !== null)
      .map((b) => ({
        series: roundLabel(r.round),
        confidence: b.meanConfidence,
        accuracy: b.accuracy,
        questions: b.count,
      })),
  );
  return {
    id: 'calibration',
    title: "Calibration: confidence vs accuracy (the paper's Figure 2)",
    caption:
      'Evaluation questions binned by confidence (the share of sampled paths that agree with the majority answer); each point is a bin at its mean confidence, sized by its number of questions. The dashed line is perfect calibration.',
    spec: ifAny(values, {
      ...base([]),
      layer: [
        {
          data: {
            values: [
              { confidence: 0, accuracy: 0 },
              { confidence: 1, accuracy: 1 },
            ],
          },
          mark: { type: 'line', color: '#999999', strokeDash: [4, 4] },
          encoding: {
            x: { field: 'confidence', type: 'quantitative' },
            y: { field: 'accuracy', type: 'quantitative' },
          },
        },
        {
          data: { values },
          mark: { type: 'line', point: { filled: true } },
          encoding: {
            x: {
              field: 'confidence',
              type: 'quantitative',
              axis: { format: '.0%', title: 'confidence (vote share)' },
              scale: { domain: [0, 1] },
            },
            y: accuracyY,
            color: seriesColor(values),
          },
        },
        {
          data: { values },
          mark: { type: 'point', filled: true, opacity: 0.35 },
          encoding: {
            x: { field: 'confidence', type: 'quantitative' },
            y: { field: 'accuracy', type: 'quantitative' },
            // The same colour channel as the lines' layer: a legend: null here drops the merged legend of
            // the rounds from the whole layered chart, not just from this layer.
            color: seriesColor(values),
            size: {
              field: 'questions',
              type: 'quantitative',
              title: 'questions',
              legend: { values: legendCounts(values.map((v) => v.questions)), format: 'd' },
            },
          },
        },
      ],
    }),
  };
}

function trainingLoss(report: CampaignReport): ChartSpec {
  const values: { series: string; step: number; loss: number }[] = [];
  const add = (r: RoundReport, who: string, curve: { step: number; loss: number }[] | undefined) => {
    for (const p of curve ?? [])
      values.push({ series: `${roundLabel(r.round)}${who}`, step: p.step, loss: p.loss });
  };
  for (const r of report.rounds) {
    add(r, '', r.training?.lossCurve);
    add(r, ' student', r.student?.training?.lossCurve);
  }
  return {
    id: 'training-loss',
    title: 'Training loss',
    caption: 'Loss on the completion tokens of the self-training set while fine-tuning, per round.',
    spec: ifAny(values, {
      ...base(values),
      mark: { type: 'line' },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'optimiser step' },
        y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { zero: false } },
        color: seriesColor(values),
      },
    }),
  };
}

const OUTCOMES = ['kept', 'disagree', 'abstain', 'lowConfidence', 'tooLong', 'duplicate', 'overCap'] as const;

function keptPaths(report: CampaignReport): ChartSpec {
  const values: { round: number; outcome: string; order: number; paths: number }[] = [];
  for (const r of report.rounds) {
    const f = r.filtering;
    if (!f) continue;
    OUTCOMES.forEach((outcome, order) => {
      const paths = outcome === 'kept' ? f.keptPaths : f.droppedBy[outcome];
      if (paths > 0) values.push({ round: r.round, outcome, order, paths });
    });
  }
  return {
    id: 'kept-paths',
    title: 'Kept and dropped paths',
    caption:
      'Sampled paths per round: kept (their answer is the majority answer) or dropped, under the first filter reason that applied.',
    spec: ifAny(values, {
      ...base(values),
      mark: { type: 'bar' },
      encoding: {
        x: roundX,
        y: { field: 'paths', type: 'quantitative', title: 'paths', stack: 'zero', axis: countAxis },
        color: {
          field: 'outcome',
          type: 'nominal',
          title: null,
          scale: { domain: OUTCOMES.filter((o) => values.some((v) => v.outcome === o)) },
        },
        order: { field: 'order', type: 'quantitative' },
      },
    }),
  };
}

function voteConfidence(report: CampaignReport): ChartSpec {
  const values = report.rounds.flatMap((r) =>
    (r.filtering?.confidenceHistogram ?? []).map((b) => ({
      series: roundLabel(r.round),
      bin: `${Math.round(b.lo * 100)}–${Math.round(b.hi * 100)}%`,
      lo: b.lo,
      questions: b.questions,
    })),
  );
  return {
    id: 'vote-confidence',
    title: 'Vote confidence of the unlabeled questions',
    caption:
      "Questions per confidence bin (the majority answer's share of the sampled paths) in each round's vote.",
    spec: ifAny(values, {
      ...base(values),
      mark: { type: 'bar' },
      encoding: {
        x: {
          field: 'bin',
          type: 'ordinal',
          title: 'confidence',
          sort: { field: 'lo', order: 'ascending' },
          axis: { labelAngle: -40 },
        },
        xOffset: { field: 'series', type: 'nominal', scale: { domain: orderedDomain(values) } },
        y: { field: 'questions', type: 'quantitative', title: 'questions', axis: countAxis },
        color: seriesColor(values),
      },
    }),
  };
}

/** The label-free health signals (method/health.ts), one chart each across rounds. */
const HEALTH_SIGNALS = [
  {
    id: 'health-majority-share',
    title: 'Majority share',
    field: 'meanMajorityShare',
    axis: { format: '.0%', title: 'mean majority share' },
    caption:
      "Mean share of a question's paths that give its majority answer: it saturates as a model collapses.",
  },
  {
    id: 'health-answer-entropy',
    title: 'Answer entropy',
    field: 'meanAnswerEntropy',
    axis: { title: 'bits' },
    caption: "Mean entropy of a question's answers across its paths: it falls as the answers stop varying.",
  },
  {
    id: 'health-abstention',
    title: 'Abstention rate',
    field: 'abstentionRate',
    axis: { format: '.0%', title: 'paths without an answer' },
    caption: 'Share of the paths from which no answer could be extracted.',
  },
  {
    id: 'health-path-length',
    title: 'Median path length',
    field: 'medianPathTokens',
    axis: { title: 'tokens' },
    caption: 'Median completion length in tokens: a drift either way is a sign of collapse.',
  },
  {
    id: 'health-distinct-rationales',
    title: 'Distinct rationales',
    field: 'distinctRationaleFraction',
    axis: { format: '.0%', title: 'distinct paths' },
    caption: "Mean share of a question's paths that are worded differently: it falls as rationales repeat.",
  },
  {
    id: 'health-agreement',
    title: 'Agreement with the previous round',
    field: 'agreementWithPrevious',
    axis: { format: '.0%', title: 'same majority answer' },
    caption: "Share of the questions whose majority answer is the previous round's.",
  },
] as const;

function healthCharts(report: CampaignReport): ChartSpec[] {
  return HEALTH_SIGNALS.map((signal) => {
    const values: { round: number; series: string; value: number }[] = [];
    for (const r of report.rounds) {
      for (const [series, h] of [
        ['sampled paths (unlabeled questions)', r.health?.sampled],
        ["evaluated model's paths (labels unread)", r.health?.evaluated],
      ] as const) {
        const value = h?.[signal.field];
        if (value !== undefined && value !== null) values.push({ round: r.round, series, value });
      }
    }
    return {
      id: signal.id,
      title: `Label-free health: ${signal.title.toLowerCase()}`,
      caption: `${signal.caption} From the sampled paths alone, no label read.`,
      spec: ifAny(values, {
        ...base(values),
        mark: { type: 'line', point: true },
        encoding: {
          x: roundX,
          y: { field: 'value', type: 'quantitative', axis: signal.axis, scale: { zero: false } },
          color: seriesColor(values),
        },
      }),
    };
  });
}

export function reportCharts(report: CampaignReport): ChartSpec[] {
  return [
    accuracyPerRound(report),
    accuracyVsK(report),
    calibration(report),
    trainingLoss(report),
    keptPaths(report),
    voteConfidence(report),
    ...healthCharts(report),
  ];
}
