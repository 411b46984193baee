#!/usr/bin/env node
// `npm run lint`'s import-circle check: madge reads every TypeScript file of the project (type-only
// imports included: a type import between two layers ties them as much as a value import does) and
// lists the import circles; any circle fails the lint. The layer rules in eslint.config.mjs keep the
// known ones from coming back; this catches any other.
const path = require('node:path');
const madge = require('madge');

/** Folders that are not the project's source: installed packages, tools, scratch and build output. */
const EXCLUDE = [/^node_modules\//, /^\.tools\//, /^\.state\//, /^tmp\//, /^dist\//, /^coverage\//];

/**
 * The import circles among the .ts files under `dir`, each as the list of files around it (paths
 * relative to `dir`). `tsConfig`: the tsconfig whose module resolution applies (optional).
 */
async function importCircles(dir, { tsConfig } = {}) {
  const result = await madge(dir, {
    fileExtensions: ['ts'],
    excludeRegExp: EXCLUDE,
    ...(tsConfig ? { tsConfig } : {}),
  });
  return result.circular();
}

if (require.main === module) {
  const root = path.resolve(__dirname, '../..');
  importCircles(root, { tsConfig: path.join(root, 'tsconfig.json') }).then(
    (circles) => {
      if (circles.length === 0) {
        console.log('import circles: none');
        return;
      }
      console.error(`import circles: ${circles.length} (each file imports the next, the last the first)`);
      for (const circle of circles) console.error(`  ${circle.join(' > ')}`);
      process.exitCode = 1;
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}

module.exports = { importCircles };
