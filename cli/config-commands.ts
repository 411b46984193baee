import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { campaignConfigJsonSchema, ConfigError, loadCampaignConfig } from '../config';

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
    .description('validate a campaign config file; prints every problem with its key path and line')
    .argument('<file>', 'the config file (JSON, comments allowed)')
    .option('--print', 'print the config with every default filled in')
    .action((file: string, opts: { print?: boolean }) => {
      try {
        const parsed = loadCampaignConfig(file);
        if (opts.print) process.stdout.write(`${JSON.stringify(parsed, null, 2)}\n`);
        else process.stdout.write(`${file}: ok\n`);
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
