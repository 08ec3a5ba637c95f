#!/usr/bin/env node
// Writes oclif.manifest.json (run by `npm run build` after tsc): every command's id, summary, args
// and flags, so that oclif loads only the command it runs, and bkg's fast path (dist/cli/fast/)
// can parse arguments and print help without loading oclif at all. Then its split for the fast
// path's start: dist/cli/fast/commands/ (an index, and one file per command).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
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

// the fast path's split of it (src/cli/fast/manifest.ts): an index, and a file per command
const { COMMANDS_DIR, INDEX_FILE, commandFile, indexOf, loadManifest } = await import('../dist/cli/fast/manifest.js');
const manifest = loadManifest();
if (!manifest) throw new Error('bkg: the manifest just written does not load');
rmSync(COMMANDS_DIR, { recursive: true, force: true });
mkdirSync(COMMANDS_DIR, { recursive: true });
writeFileSync(join(COMMANDS_DIR, INDEX_FILE), JSON.stringify(indexOf(manifest)));
for (const [id, command] of Object.entries(manifest.commands)) writeFileSync(join(COMMANDS_DIR, commandFile(id)), JSON.stringify(command));
