/**
 * The demo: an embedded model improves itself on its own majority-voted answers, through the real
 * Temporal workflows, on a laptop CPU.
 *
 *   npm run demo [-- --quick] [--hold] [--seed N] [--m N] [--rounds N] [--ui-port N] [--out FILE]
 *
 * Installs the Temporal CLI if missing, starts its own dev server (Web UI on), in-process workers,
 * builds (or reuses) the base model under tmp/demo-models, runs a campaign, prints a table per round
 * and writes the numbers to bench/results/demo-last.json.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFigures } from './figures';
import { parseDemoArgs } from './options';
import { demoResults, resultsTable, writeResults, type DemoSeedResult } from './results';
import { DEMO_RECIPE, QUICK_RECIPE } from '../embedded';
import { demoBase, ensureTemporalCli, ROOT, runSeed, startDemoServer } from './session';

/** Stops the dev server of a demo that is being interrupted; set once the server is up. */
let interrupted: () => Promise<void> = () => Promise.resolve();

/**
 * Ctrl-C or a kill ends the demo through process.exit, whose 'exit' handlers kill the worker
 * processes (a signal's default action skips them and would leave the workers running), after the
 * dev server is torn down (it is a process of its own), 10 s at most.
 */
function exitOnSignal(signal: NodeJS.Signals): void {
  process.stderr.write(`\n${signal}: stopping the demo\n`);
  const timeout = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
  void Promise.race([interrupted().catch(() => undefined), timeout]).finally(() =>
    process.exit(128 + os.constants.signals[signal]),
  );
}

async function main(): Promise<void> {
  process.on('SIGINT', exitOnSignal);
  process.on('SIGTERM', exitOnSignal);
  const started = Date.now();
  const options = parseDemoArgs(process.argv.slice(2));
  const recipe = options.quick ? QUICK_RECIPE : DEMO_RECIPE;
  const temporalBin = ensureTemporalCli();
  const base = await demoBase(recipe, options);
  const server = await startDemoServer(temporalBin, options.uiPort);
  interrupted = () => server.env.teardown();
  process.stdout.write(
    `Temporal dev server at ${server.env.address}; Web UI: http://127.0.0.1:${options.uiPort}\n`,
  );
  try {
    const seeds: DemoSeedResult[] = [];
    const out = path.resolve(ROOT, options.out);
    for (const seed of options.seeds) {
      seeds.push(await runSeed(server, base, options, seed));
      // Written after every seed: a 3-seed bench (hours) that dies keeps the seeds it finished.
      if (seeds.length < options.seeds.length)
        writeResults(out, demoResults(recipe, base, options, seeds, (Date.now() - started) / 1000));
    }
    const results = demoResults(recipe, base, options, seeds, (Date.now() - started) / 1000);
    process.stdout.write(`\n${resultsTable(results)}\n`);
    const file = writeResults(out, results);
    process.stdout.write(`\nresults: ${path.relative(ROOT, file)}\n`);
    for (const s of seeds) {
      process.stdout.write(`artifacts (seed ${s.seed}): ${s.artifactsDir}\n`);
      if (s.reportHtml === null) continue;
      process.stdout.write(`report (seed ${s.seed}): ${s.reportHtml}\n`);
      // Next to the results file: bench/results/demo-last-figures/seed-1/{accuracy,calibration}.svg
      const dir = path.join(file.replace(/\.json$/, '-figures'), `seed-${s.seed}`);
      const figures = await writeFigures(s.reportHtml, dir);
      process.stdout.write(
        `figures (seed ${s.seed}): ${figures.map((f) => path.relative(ROOT, f)).join(', ')}\n`,
      );
    }
    process.stdout.write(`Web UI (until this process exits): http://127.0.0.1:${options.uiPort}\n`);
    if (options.hold) {
      process.stdout.write('holding the dev server for the Web UI; Ctrl-C to stop\n');
      process.removeListener('SIGINT', exitOnSignal);
      await new Promise((resolve) => process.once('SIGINT', resolve));
    }
  } finally {
    await server.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
