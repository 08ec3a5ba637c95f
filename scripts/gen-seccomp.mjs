#!/usr/bin/env node
// Writes dist/runtime/seccomp/default-programs.json (run by `npm run build` after tsc): bkg's default
// seccomp profile compiled with and without nested namespaces, keyed by the profile file's size and
// mtime, so that starting a sandbox never compiles it (src/runtime/seccomp/programs.ts).
import { writeFileSync } from 'node:fs';

const { compileDefault, PRECOMPILED_FILE, profileStamp } = await import('../dist/runtime/seccomp/programs.js');
const [plain, nested] = await Promise.all([compileDefault(false), compileDefault(true)]);
writeFileSync(PRECOMPILED_FILE, `${JSON.stringify({ profile: profileStamp(), default: plain.toString('base64'), nested: nested.toString('base64') })}\n`);
console.error(`bkg: wrote the default seccomp programs (${plain.length / 8} and ${nested.length / 8} instructions)`);
