#!/usr/bin/env node
// `npm run demo` (and the bench scripts built on it) on a fresh clone: runs `npm ci` when the
// installed packages do not match package-lock.json (no install yet, or a pull changed the lock), so
// the demo needs no install step of its own. npm records what it installed in
// node_modules/.package-lock.json; every package the lock requires must be there at its version
// (optional ones may be absent: other platforms' binaries).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** Why the packages under `root` do not match its lock, or null when they do. */
function mismatch(root) {
  const installedFile = path.join(root, 'node_modules', '.package-lock.json');
  if (!fs.existsSync(installedFile)) return 'not installed';
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')).packages;
  const installed = JSON.parse(fs.readFileSync(installedFile, 'utf8')).packages;
  for (const [where, entry] of Object.entries(lock)) {
    if (where === '' || entry.link) continue;
    const have = installed[where];
    if (!have && entry.optional) continue;
    if (!have || have.version !== entry.version) return `${where} is not ${entry.version}`;
  }
  return null;
}

module.exports = { mismatch };

if (require.main === module) {
  const root = path.join(__dirname, '../..');
  const why = mismatch(root);
  if (why !== null) {
    process.stdout.write(`packages do not match package-lock.json (${why}): npm ci\n`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    // package.json's allowScripts keeps onnxruntime-node's CUDA download from running on npm >= 11.16;
    // older npm ignores that field, and the install script itself reads this variable.
    const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
    const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
