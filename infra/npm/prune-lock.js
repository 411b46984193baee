#!/usr/bin/env node
// The npm registry this project's machines reach serves only the Linux builds of packages with
// per-platform binaries (@swc/core-darwin-arm64 and friends are 404 there). `npm install` then writes
// a lock whose optionalDependencies name packages it has no entry for, and `npm ci` rejects that lock
// as "out of sync". This drops those dangling names; run it after every `npm install`
// (`npm run lock:prune`). tests/infra/lockfile.test.ts fails when it is needed.
// On macOS or Windows, use `npm install` (not `npm ci`) to fetch that platform's binaries.
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '../../package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));

function danglingOptional(lock) {
  const found = [];
  for (const [where, entry] of Object.entries(lock.packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      // npm resolves a dependency from the nearest node_modules up the tree.
      let dir = where;
      let resolved = false;
      for (;;) {
        if (lock.packages[`${dir ? `${dir}/` : ''}node_modules/${name}`]) {
          resolved = true;
          break;
        }
        if (!dir) break;
        const i = dir.lastIndexOf('node_modules/');
        dir = i <= 0 ? '' : dir.slice(0, i - 1);
      }
      if (!resolved) found.push({ where, name });
    }
  }
  return found;
}

if (require.main === module) {
  const dangling = danglingOptional(lock);
  for (const { where, name } of dangling) delete lock.packages[where].optionalDependencies[name];
  if (dangling.length > 0) fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`package-lock.json: removed ${dangling.length} optional dependencies the registry does not serve`);
}

module.exports = { danglingOptional };
