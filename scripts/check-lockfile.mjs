#!/usr/bin/env node
/**
 * Does package-lock.json match package.json? (`npm ci` refuses a mismatch too; this says what
 * differs, cheaply, in the test suite.) The lockfile's root entry must declare the same
 * dependencies, devDependencies, optionalDependencies and peerDependencies with the same specs,
 * the same name and version, and every declared dependency must be in the lockfile's tree at a
 * version the spec allows (an exact spec: that version; a ^ or ~ range: checked as npm reads it).
 *
 *   node scripts/check-lockfile.mjs        (npm run check:lockfile; exit 1 naming each mismatch)
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const KINDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'];

const parts = (v) => v.split(/[-+]/)[0].split('.').map(Number);

/** Whether `version` satisfies `spec` for the specs package.json uses here (exact, ^, ~); null: a spec this check does not read (npm ci still does). */
export function satisfies(version, spec) {
  const m = /^([~^]?)(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$/.exec(spec);
  if (!m) return null;
  if (!m[1]) return version === spec;
  if (m[5] || version.includes('-')) return null; // prerelease ranges: left to npm ci
  const want = [Number(m[2]), Number(m[3]), Number(m[4])];
  const got = parts(version);
  const cmp = got[0] - want[0] || got[1] - want[1] || got[2] - want[2];
  if (cmp < 0) return false;
  if (m[1] === '~') return got[0] === want[0] && got[1] === want[1];
  if (want[0] > 0) return got[0] === want[0];
  if (want[1] > 0) return got[0] === 0 && got[1] === want[1];
  return got[0] === 0 && got[1] === 0 && got[2] === want[2];
}

export function lockfileProblems(pkg, lock) {
  const problems = [];
  const root = lock.packages?.[''];
  if (!root) return ['package-lock.json has no root entry (packages[""]): regenerate it with npm install'];
  if (lock.name !== pkg.name || root.name !== pkg.name) problems.push(`name: package.json says ${pkg.name}, package-lock.json ${root.name ?? lock.name}`);
  if (lock.version !== pkg.version || root.version !== pkg.version) problems.push(`version: package.json says ${pkg.version}, package-lock.json ${root.version ?? lock.version}`);
  for (const kind of KINDS) {
    const declared = pkg[kind] ?? {};
    const locked = root[kind] ?? {};
    for (const [name, spec] of Object.entries(declared)) {
      if (!(name in locked)) problems.push(`${kind}.${name}: in package.json (${spec}), not in package-lock.json`);
      else if (locked[name] !== spec) problems.push(`${kind}.${name}: package.json says ${spec}, package-lock.json ${locked[name]}`);
      const entry = lock.packages[`node_modules/${name}`];
      if (!entry) {
        if (kind !== 'optionalDependencies' && kind !== 'peerDependencies') problems.push(`${kind}.${name}: not in package-lock.json's tree`);
        continue;
      }
      if (satisfies(entry.version, spec) === false) problems.push(`${kind}.${name}: package-lock.json has ${entry.version}, which ${spec} does not allow`);
    }
    for (const name of Object.keys(locked)) if (!(name in declared)) problems.push(`${kind}.${name}: in package-lock.json (${locked[name]}), not in package.json`);
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const read = (f) => JSON.parse(readFileSync(join(ROOT, f), 'utf8'));
  const problems = lockfileProblems(read('package.json'), read('package-lock.json'));
  for (const p of problems) process.stderr.write(`bkg: package-lock.json does not match package.json: ${p}\n`);
  if (problems.length) {
    process.stderr.write('hint: run `npm install` and commit package-lock.json with package.json\n');
    process.exit(1);
  }
  process.stderr.write('bkg: package-lock.json matches package.json\n');
}
