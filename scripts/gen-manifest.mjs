#!/usr/bin/env node
// Writes oclif.manifest.json (run by `npm run build` after tsc): every command's id, summary, args
// and flags, so that oclif loads only the command it runs, and bkg's fast path (dist/cli/fast/)
// can parse arguments and print help without loading oclif at all.
import { writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const file = join(root, 'oclif.manifest.json');
rmSync(file, { force: true }); // never build a manifest from an old one
const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
writeFileSync(file, `${JSON.stringify(plugin.manifest, null, 2)}\n`);
console.error(`bkg: wrote ${Object.keys(plugin.manifest.commands).length} commands to oclif.manifest.json`);
