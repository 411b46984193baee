import { existsSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { buildArithBaseModel, MODEL_RECIPES, type ArithRecipe } from '../embedded';

function recipeName(value: string): string {
  if (!(value in MODEL_RECIPES)) {
    throw new InvalidArgumentError(`unknown recipe; one of ${Object.keys(MODEL_RECIPES).join(', ')}`);
  }
  return value;
}

/**
 * Builds a recipe into `out`: model/ (a checkpoint folder lmsi runs), data/ (train, unlabeled, eval
 * and seed-example JSONL) and base-model.json. Built beside `out` and renamed, so `out` is complete or
 * absent; an existing complete build is kept.
 */
export async function initModel(recipe: ArithRecipe, out: string): Promise<'built' | 'exists'> {
  const dir = path.resolve(out);
  if (existsSync(path.join(dir, '.complete'))) return 'exists';
  if (existsSync(dir) && (await readdir(dir)).length > 0) {
    throw new Error(`${out}: exists and is not a finished model build; remove it or choose another --out`);
  }
  const buildRoot = `${dir}.build-${process.pid}`;
  try {
    const built = await buildArithBaseModel(buildRoot, recipe);
    await rm(dir, { recursive: true, force: true });
    await rename(built.dir, dir);
  } finally {
    await rm(buildRoot, { recursive: true, force: true });
  }
  return 'built';
}

/** Registers `lmsi model` with `init`; returns the group so other subcommands (check) join it. */
export function registerModelInitCommand(program: Command): Command {
  const model = program
    .command('model')
    .description('model folders: build a base model (init), check one (check)');
  model
    .command('init')
    .description('train a small base model from scratch on arith seed problems, with its data splits')
    .option(
      '--recipe <name>',
      Object.entries(MODEL_RECIPES)
        .map(([name, r]) => `${name}: ${r.about}`)
        .join('; '),
      recipeName,
      'tiny',
    )
    .requiredOption('-o, --out <dir>', 'output folder (model/, data/, base-model.json)')
    .action(async (opts: { recipe: string; out: string }) => {
      const started = Date.now();
      const outcome = await initModel(MODEL_RECIPES[opts.recipe].recipe, opts.out);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      process.stdout.write(
        outcome === 'exists'
          ? `${opts.out}: already built (remove it to rebuild)\n`
          : `${opts.out}: built recipe ${opts.recipe} in ${seconds} s (model: ${path.join(opts.out, 'model')})\n`,
      );
    });
  return model;
}
