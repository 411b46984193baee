import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * vega and vega-lite 5: the last major versions with CommonJS builds (6 is ESM-only, which jest's
 * CommonJS runtime cannot load, and vega-lite 6.5 wants Node 22). vega's CJS build bundles its d3
 * modules, so nothing ESM is loaded.
 */

export type ChartWarning = (chart: string, message: string) => void;

/** A vega logger that sends warnings to `onWarning` and turns errors into exceptions. */
function chartLogger(chart: string, onWarning: ChartWarning): vega.LoggerInterface {
  let level = vega.Warn;
  const text = (args: readonly unknown[]) =>
    args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: readonly unknown[]) {
      throw new Error(`chart "${chart}": ${text(args)}`);
    },
    warn(...args: readonly unknown[]) {
      if (level >= vega.Warn) onWarning(chart, text(args));
      return logger;
    },
    info: () => logger,
    debug: () => logger,
  };
  return logger as vega.LoggerInterface;
}

/**
 * Renders a vega-lite spec to an SVG string on the server: compiled to vega, run headless (no DOM,
 * no canvas) and serialised by the View's SVG renderer. No fonts or images are fetched.
 */
export async function renderSvg(chart: string, spec: TopLevelSpec, onWarning: ChartWarning): Promise<string> {
  const logger = chartLogger(chart, onWarning);
  const compiled = compile(spec, { logger }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
