/** `npm run sbom`: a CycloneDX 1.5 SBOM of what is installed, checked against node_modules and the lockfile. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/runtime/host.js';

interface Component {
  'bom-ref': string;
  type: string;
  name: string;
  group?: string;
  version: string;
  purl: string;
  hashes?: { alg: string; content: string }[];
  licenses?: ({ license: { id?: string; name?: string } } | { expression: string })[];
  properties?: { name: string; value: string }[];
}
interface Bom {
  bomFormat: string;
  specVersion: string;
  serialNumber: string;
  version: number;
  metadata: { timestamp: string; component: Component };
  components: Component[];
  dependencies: { ref: string; dependsOn: string[] }[];
}

const root = packageRoot();
type Lock = { packages: Record<string, { version?: string; integrity?: string; dev?: boolean; name?: string }> };

describe('npm run sbom', () => {
  let dir: string;
  let bom: Bom;
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lock;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-sbom-'));
    const out = join(dir, 'bom.json');
    execFileSync('npm', ['run', '--silent', 'sbom', '--', '--out', out], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    bom = JSON.parse(readFileSync(out, 'utf8')) as Bom;
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is CycloneDX 1.5 JSON describing bkg itself', () => {
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1 });
    expect(bom.serialNumber).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
    expect(bom.metadata.component).toMatchObject({ type: 'application', name: pkg.name, version: pkg.version, purl: `pkg:npm/${pkg.name}@${pkg.version}` });
  });

  it('lists every installed package once, with its version as installed, its purl, the lockfile\'s hash and a license', () => {
    const installed = Object.keys(lock.packages).filter((p) => p.includes('node_modules/') && existsSync(join(root, p, 'package.json')));
    expect(bom.components.map((c) => c['bom-ref']).sort()).toEqual(installed.sort());
    for (const c of bom.components) {
      const onDisk = JSON.parse(readFileSync(join(root, c['bom-ref'], 'package.json'), 'utf8')) as { version: string };
      expect(c.version, c['bom-ref']).toBe(onDisk.version);
      const full = c.group ? `${c.group}/${c.name}` : c.name;
      expect(c.purl, c['bom-ref']).toBe(`pkg:npm/${full.replace('@', '%40')}@${c.version}`);
      const integrity = lock.packages[c['bom-ref']]?.integrity;
      if (integrity?.startsWith('sha512-')) expect(c.hashes).toEqual([{ alg: 'SHA-512', content: Buffer.from(integrity.slice(7), 'base64').toString('hex') }]);
      expect(c.licenses?.length ?? 0, `${c['bom-ref']} has no license`).toBeGreaterThan(0);
      expect(c.properties?.some((p) => p.name === 'cdx:npm:package:development' && p.value === 'true')).toBe(lock.packages[c['bom-ref']]?.dev === true);
    }
    const zod = bom.components.find((c) => c['bom-ref'] === 'node_modules/@opentelemetry/api');
    expect(zod).toMatchObject({ group: '@opentelemetry', name: 'api', version: '1.9.0', purl: 'pkg:npm/%40opentelemetry/api@1.9.0' });
  });

  it('has the dependency graph: bkg on what package.json names, each package on what it resolves to', () => {
    const refs = new Set([bom.metadata.component['bom-ref'], ...bom.components.map((c) => c['bom-ref'])]);
    for (const d of bom.dependencies) {
      expect(refs.has(d.ref), d.ref).toBe(true);
      for (const to of d.dependsOn) expect(refs.has(to), `${d.ref} -> ${to}`).toBe(true);
    }
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: object; devDependencies: object };
    const top = bom.dependencies.find((d) => d.ref === bom.metadata.component['bom-ref']);
    expect(top?.dependsOn.sort()).toEqual(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).map((n) => `node_modules/${n}`).sort());
    expect(bom.dependencies.find((d) => d.ref === 'node_modules/pino')?.dependsOn).toEqual(expect.arrayContaining(['node_modules/sonic-boom', 'node_modules/thread-stream']));
  });
});
