#!/usr/bin/env node
/**
 * A CycloneDX 1.5 SBOM (JSON) of the installed tree, from package-lock.json and the package.json of
 * every package present under node_modules: name, version, purl, the lockfile's integrity hash,
 * licenses, and the dependency graph (resolved as Node resolves: the nearest node_modules up the
 * path). Packages the lockfile lists but that are not installed (another platform's optional
 * binaries) are left out. Development-only packages carry the property cdx:npm:package:development.
 *
 *   node scripts/sbom.mjs [--out FILE]      (npm run sbom; default release/bkg-VERSION.cdx.json)
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** pkg:npm/%40scope/name@version (the purl spec's npm type: the scope's @ percent-encoded). */
export function purlOf(name, version) {
  const [scope, base] = name.startsWith('@') ? name.split('/') : [null, name];
  return `pkg:npm/${scope ? `${encodeURIComponent(scope)}/` : ''}${encodeURIComponent(base)}@${encodeURIComponent(version)}`;
}

/** An SRI integrity string (sha512-BASE64 ...) as CycloneDX hashes. */
export function hashesOf(integrity) {
  const algs = { sha1: 'SHA-1', sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };
  return (integrity ?? '').split(/\s+/).filter(Boolean).flatMap((sri) => {
    const i = sri.indexOf('-');
    const alg = algs[sri.slice(0, i)];
    return alg ? [{ alg, content: Buffer.from(sri.slice(i + 1), 'base64').toString('hex') }] : [];
  });
}

/** SPDX ids seen in npm's registry often enough to name as ids; any other string is a license `name` (CycloneDX allows only SPDX ids as `id`). */
const SPDX_IDS = new Set(['MIT', 'ISC', 'Apache-2.0', 'BSD-2-Clause', 'BSD-3-Clause', '0BSD', 'BlueOak-1.0.0', 'MPL-2.0', 'Unlicense', 'CC0-1.0', 'CC-BY-3.0', 'CC-BY-4.0', 'Python-2.0', 'Artistic-2.0', 'Zlib', 'WTFPL', 'LGPL-3.0-or-later', 'LGPL-2.1-or-later', 'GPL-2.0-only', 'GPL-3.0-only', 'AFL-2.1', 'BSD-2-Clause-Patent', 'EPL-2.0']);

function licensesOf(manifest, lockEntry) {
  const raw = manifest.license ?? lockEntry.license;
  if (typeof raw === 'string' && raw) {
    if (/\s(OR|AND|WITH)\s|^\(/.test(raw)) return [{ expression: raw }];
    return [{ license: SPDX_IDS.has(raw) ? { id: raw } : { name: raw } }];
  }
  if (raw && typeof raw === 'object' && raw.type) return [{ license: { name: String(raw.type) } }];
  if (Array.isArray(manifest.licenses)) return manifest.licenses.filter((l) => l?.type).map((l) => ({ license: { name: String(l.type) } }));
  return [];
}

/** The lock path a package at `from` gets for `dep`: from/node_modules/dep, then each enclosing node_modules, then the root's. */
function resolveDep(packages, from, dep) {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${dep}` : `node_modules/${dep}`;
    if (packages[candidate]) return candidate;
    if (!base) return null;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

const nameFromPath = (path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

export function buildSbom(root = ROOT, opts = {}) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  if (lock.lockfileVersion < 2 || !lock.packages) throw new Error('package-lock.json: lockfileVersion 2 or 3 (with "packages") is required');
  const packages = lock.packages;
  const installed = new Map(); // lock path -> { ref, entry }
  for (const [path, entry] of Object.entries(packages)) {
    if (path === '' || !path.includes('node_modules/')) continue; // the root, and workspace folders
    const dir = join(root, entry.link ? entry.resolved : path);
    if (!existsSync(join(dir, 'package.json'))) continue; // not installed here (another platform's optional package)
    installed.set(path, { entry, dir });
  }
  const rootRef = purlOf(pkg.name, pkg.version);
  const components = [];
  const deps = [];
  const depsOf = (from, entry) => {
    const names = Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies });
    const refs = new Set();
    for (const n of names) {
      const at = resolveDep(packages, from, n);
      if (at && installed.has(at)) refs.add(at);
    }
    return [...refs].sort();
  };
  for (const [path, { entry, dir }] of installed) {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const name = entry.name ?? manifest.name ?? nameFromPath(path);
    const version = entry.version ?? manifest.version;
    const c = { type: 'library', 'bom-ref': path, name: name.startsWith('@') ? name.split('/')[1] : name, version, purl: purlOf(name, version) };
    if (name.startsWith('@')) c.group = name.split('/')[0];
    const hashes = hashesOf(entry.integrity);
    if (hashes.length) c.hashes = hashes;
    const licenses = licensesOf(manifest, entry);
    if (licenses.length) c.licenses = licenses;
    const props = [];
    if (entry.dev) props.push({ name: 'cdx:npm:package:development', value: 'true' });
    if (entry.optional) props.push({ name: 'cdx:npm:package:optional', value: 'true' });
    props.push({ name: 'cdx:npm:package:path', value: path });
    c.properties = props;
    if (entry.resolved && !entry.link) c.externalReferences = [{ type: 'distribution', url: entry.resolved }];
    components.push(c);
    deps.push({ ref: path, dependsOn: depsOf(path, entry) });
  }
  components.sort((a, b) => a['bom-ref'].localeCompare(b['bom-ref']));
  deps.sort((a, b) => a.ref.localeCompare(b.ref));
  const rootEntry = packages[''] ?? {};
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${opts.serial ?? randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: (opts.now ?? new Date()).toISOString(),
      tools: { components: [{ type: 'application', name: 'bkg scripts/sbom.mjs', version: pkg.version }] },
      component: { type: 'application', 'bom-ref': rootRef, name: pkg.name, version: pkg.version, purl: rootRef, ...(pkg.license ? { licenses: [{ license: { id: pkg.license } }] } : {}) },
    },
    components,
    dependencies: [{ ref: rootRef, dependsOn: depsOf('', { dependencies: { ...rootEntry.dependencies, ...rootEntry.devDependencies, ...rootEntry.optionalDependencies } }) }, ...deps],
  };
}

export function writeSbom(out, root = ROOT) {
  const bom = buildSbom(root);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(bom, null, 2)}\n`);
  return bom;
}

export function defaultSbomPath(root = ROOT) {
  const { name, version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return join(root, 'release', `${name}-${version}.cdx.json`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const out = resolve(i > 0 && process.argv[i + 1] ? process.argv[i + 1] : defaultSbomPath());
  const bom = writeSbom(out);
  process.stderr.write(`bkg: wrote the SBOM of ${bom.components.length} installed packages to ${out}\n`);
}
