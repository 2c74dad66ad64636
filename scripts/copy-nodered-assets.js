#!/usr/bin/env node
'use strict';
// Copies the LotBridge Node-RED nodes' editor files (HTML with help text, icons) next to their
// compiled JavaScript in dist/, where Node-RED looks for them (package.json "node-red" section).
const fs = require('node:fs');
const path = require('node:path');

function copyNodeRedAssets(root) {
  const src = path.join(root, 'src', 'nodered', 'nodes');
  const out = path.join(root, 'dist', 'src', 'nodered', 'nodes');
  fs.mkdirSync(path.join(out, 'icons'), { recursive: true });
  let n = 0;
  for (const f of fs.readdirSync(src)) {
    if (f.endsWith('.html')) {
      fs.copyFileSync(path.join(src, f), path.join(out, f));
      n++;
    }
  }
  for (const f of fs.readdirSync(path.join(src, 'icons'))) {
    fs.copyFileSync(path.join(src, 'icons', f), path.join(out, 'icons', f));
    n++;
  }
  return n;
}

module.exports = { copyNodeRedAssets };
if (require.main === module) {
  copyNodeRedAssets(path.resolve(__dirname, '..'));
}
