import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { campaignConfigJsonSchema, ConfigError, loadCampaignConfig, type CampaignConfig } from '../config';

/**
 * The campaign's preflight (client/preflight.ts) where `lmsi run` and `lmsi config check` run: the
 * base model and the prompts against its context, before any workflow starts. Warnings go to
 * stderr; a model or data the campaign cannot run on throws the BadInputError naming file and field.
 */
export async function runPreflight(config: CampaignConfig, verbose: boolean): Promise<void> {
  const { preflightCampaign } = await import('../client/preflight');
  const p = await preflightCampaign(config);
  if (p === null) {
    if (verbose)
      process.stdout.write(
        `model: ${config.model.dir} is not visible here; the light worker checks it when the campaign starts\n`,
      );
    return;
  }
  if (verbose) {
    const m = p.model;
    process.stdout.write(
      `model: ${m.dir}: ${m.architecture} (${m.family}), ${m.dtype}, context ${m.contextLength ?? 'unknown'}` +
        `${m.tokenizer.chatTemplate && config.prompting.chatTemplate === 'auto' ? ', prompted with its chat template' : ''}\n`,
    );
    for (const f of p.files)
      process.stdout.write(
        `prompts (${p.prompt}): ${f.file}: ${f.questions} questions, longest ${f.longest} tokens\n`,
      );
  }
  for (const w of p.warnings) process.stderr.write(`warning: ${w}\n`);
}

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('campaign config: JSON Schema and validation');

  config
    .command('schema')
    .description('print the JSON Schema of lmsi.config.json (editors validate the file with it)')
    .option('-o, --out <file>', 'write the schema to this file instead of stdout')
    .action((opts: { out?: string }) => {
      const text = `${JSON.stringify(campaignConfigJsonSchema(), null, 2)}\n`;
      if (opts.out) writeFileSync(opts.out, text);
      else process.stdout.write(text);
    });

  config
    .command('check')
    .description(
      'validate a campaign config file (every problem with its key path and line), then check its model and prompts against the context where the model folder is visible',
    )
    .argument('<file>', 'the config file (JSON, comments allowed)')
    .option('--print', 'print the config with every default filled in')
    .option('--no-model', 'validate the file only (no model or data check)')
    .action(async (file: string, opts: { print?: boolean; model: boolean }) => {
      try {
        const parsed = loadCampaignConfig(file);
        if (opts.print) process.stdout.write(`${JSON.stringify(parsed, null, 2)}\n`);
        else process.stdout.write(`${file}: ok\n`);
        if (opts.model) {
          const { resolveConfigPaths } = await import('../client/campaigns');
          await runPreflight(resolveConfigPaths(parsed, file), !opts.print);
        }
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`${e.message}\n`);
          process.exitCode = 1;
          return;
        }
        throw e;
      }
    });
}
