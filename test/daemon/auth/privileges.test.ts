/** Privileges and limits under a namespace policy: pure functions, plus real paths and symlinks for workspace roots. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE_POLICY, PRIVILEGES, type NamespacePolicy } from '../../../src/api/policies.js';
import { missingPrivilege, underRoots, type SandboxAsk } from '../../../src/daemon/auth/privileges.js';
import { allowed, KEY_KINDS, keyKind, RIGHTS } from '../../../src/daemon/auth/rights.js';
import { limitsFromInput } from '../../../src/runtime/from-request.js';
import { limitsUnderPolicy } from '../../../src/daemon/sandbox-limits.js';

const MiB = 1024 * 1024;
const base: SandboxAsk = { network: 'none', workspace: null, allowNestedNamespaces: false, customSeccomp: false, limits: limitsFromInput({}) };
const policy = (over: Partial<NamespacePolicy> = {}): NamespacePolicy => ({ ...DEFAULT_NAMESPACE_POLICY, ...over });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-priv-'));
  mkdirSync(join(dir, 'root', 'proj'), { recursive: true });
  mkdirSync(join(dir, 'rootish'));
  mkdirSync(join(dir, 'elsewhere'));
  symlinkSync(join(dir, 'elsewhere'), join(dir, 'root', 'escape'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('privileges', () => {
  it('the baseline needs none under the defaults', () => {
    expect(missingPrivilege(policy(), base, 'ci')).toBeNull();
  });

  it.each([
    ['network.host', { network: 'host' as const }, { networks: ['none', 'host'] as NamespacePolicy['networks'] }],
    ['network.allow', { network: 'allow:pypi.org' as const }, { networks: ['none', 'allow'] }],
    ['nested_namespaces', { allowNestedNamespaces: true }, { allow_nested_namespaces: true }],
    ['custom_seccomp', { customSeccomp: true }, { allow_custom_seccomp: true }],
    ['limits.memory_mb', { limits: { ...base.limits, memoryBytes: 4096 * MiB } }, { max_memory_mb: 4096 }],
    ['limits.cpus', { limits: { ...base.limits, cpus: 3 } }, { max_cpus: 3 }],
    ['limits.pids', { limits: { ...base.limits, pids: 5000 } }, { max_pids: null }],
    ['limits.disk_mb', { limits: { ...base.limits, diskBytes: 5000 * MiB } }, { max_disk_mb: 5000 }],
  ])('%s is refused by the defaults (naming it and its grant) and granted by a policy', (privilege, ask, grant) => {
    const capped = policy({ max_cpus: 2 });
    const missing = missingPrivilege(capped, { ...base, ...ask }, 'ci');
    expect(missing?.privilege).toBe(privilege);
    expect(missing?.message).toContain('namespace "ci"');
    expect(missing?.grant).toMatch(/^--/);
    expect(missingPrivilege({ ...capped, ...grant }, { ...base, ...ask }, 'ci')).toBeNull();
  });

  it('names every privilege it checks', () => {
    expect(PRIVILEGES).toEqual(['network.host', 'network.allow', 'workspace.host', 'nested_namespaces', 'custom_seccomp', 'limits.memory_mb', 'limits.cpus', 'limits.pids', 'limits.disk_mb']);
  });

  it('an egress allowlist is granted by allow, by host, or entry by entry by allow:ENTRY (names, wildcards, ranges, ports)', () => {
    const ask = (network: string) => ({ ...base, network: network as SandboxAsk['network'] });
    const within = policy({ networks: ['none', 'allow:*.pypi.org', 'allow:github.com:443', 'allow:10.0.0.0/8:*', 'allow:[fd00::/8]:443'] });
    for (const ok of ['allow:files.pypi.org', 'allow:*.a.pypi.org:443', 'allow:github.com:443', 'allow:10.1.2.3:22', 'allow:10.2.0.0/16', 'allow:[fd00::1]:443']) {
      expect(missingPrivilege(within, ask(ok), 'ci'), ok).toBeNull();
    }
    for (const entry of ['pypi.org', 'github.com', 'files.pypi.org:8080', '11.0.0.1', '10.0.0.0/7', '*.python.org']) {
      const bad = `allow:${entry}`;
      const missing = missingPrivilege(within, ask(bad), 'ci');
      expect(missing, bad).toMatchObject({ privilege: 'network.allow' });
      expect(missing?.message).toContain(`"${entry}"`);
      expect(missing?.grant).toContain(`allow:${entry}`);
    }
    expect(missingPrivilege(policy({ networks: ['none', 'host'] }), ask('allow:anything.example'), 'ci')).toBeNull();
    expect(missingPrivilege(policy({ networks: ['none', 'allow'] }), ask('host'), 'ci')?.privilege).toBe('network.host');
  });

  it('a host workspace must lie under a root, resolved: no prefix tricks, no symlinks out, nothing that does not exist', () => {
    const roots = [join(dir, 'root')];
    expect(underRoots(join(dir, 'root'), roots)).toBe(true);
    expect(underRoots(join(dir, 'root', 'proj'), roots)).toBe(true);
    expect(underRoots(join(dir, 'root', 'proj', '..', '..', 'elsewhere'), roots)).toBe(false);
    expect(underRoots(join(dir, 'rootish'), roots)).toBe(false);
    expect(underRoots(join(dir, 'root', 'escape'), roots)).toBe(false);
    expect(underRoots(join(dir, 'root', 'missing'), roots)).toBe(false);
    expect(underRoots(join(dir, 'root'), [])).toBe(false);
    const ws = { ...base, workspace: join(dir, 'root', 'proj') };
    expect(missingPrivilege(policy(), ws, 'ci')?.privilege).toBe('workspace.host');
    expect(missingPrivilege(policy({ workspace_roots: roots }), ws, 'ci')).toBeNull();
  });
});

describe('limits under a policy', () => {
  it('keeps what was asked, and lowers only defaults that are above a cap', () => {
    const p = policy({ max_memory_mb: 256, max_pids: 100, max_disk_mb: 512, max_cpus: 1.5 });
    expect(limitsUnderPolicy({}, p)).toEqual({ memoryBytes: 256 * MiB, pids: 100, diskBytes: 512 * MiB, cpus: 1.5 });
    expect(limitsUnderPolicy({ memory_mb: 1024, pids: 1000, cpus: 4 }, p)).toMatchObject({ memoryBytes: 1024 * MiB, pids: 1000, cpus: 4 });
    expect(limitsUnderPolicy({}, policy())).toEqual(limitsFromInput({}));
  });
});

describe('the rights table', () => {
  it('gives admin keys every action and a sandbox\'s own key only its own sandbox\'s', () => {
    for (const action of Object.keys(RIGHTS) as (keyof typeof RIGHTS)[]) expect(allowed('admin', action)).toBe(true);
    const sandbox = (Object.keys(RIGHTS) as (keyof typeof RIGHTS)[]).filter((a) => allowed('sandbox', a));
    expect(sandbox.sort()).toEqual(['llm.request', 'mcp.session', 'sandbox.exec', 'sandbox.files.write', 'sandbox.list', 'sandbox.read']);
    const readonly = (Object.keys(RIGHTS) as (keyof typeof RIGHTS)[]).filter((a) => allowed('readonly', a));
    expect(readonly.every((a) => /\.(list|read)$|^mcp\./.test(a))).toBe(true);
    expect(KEY_KINDS).toEqual(['admin', 'namespace', 'readonly', 'sandbox']);
    expect(keyKind({ id: 'k', name: 'k', role: 'namespace', namespaceId: 'ns', sandboxId: 'sb' })).toBe('sandbox');
  });

  it('is the table README shows, row for row', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Rights: who may do what'), readme.indexOf('**Privileges.**'));
    const documented: Record<string, boolean[]> = {};
    for (const line of section.split('\n').filter((l) => l.startsWith('| `'))) {
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      const actions = [...(cells[0] ?? '').matchAll(/`([a-z.]+)`/g)].map((m) => m[1] as string).filter((a) => a in RIGHTS);
      for (const a of actions) documented[a] = cells.slice(1).map((c) => c !== '—');
    }
    const actual = Object.fromEntries(Object.keys(RIGHTS).map((a) => [a, KEY_KINDS.map((k) => allowed(k, a as keyof typeof RIGHTS))]));
    expect(documented).toEqual(actual);
  });
});
